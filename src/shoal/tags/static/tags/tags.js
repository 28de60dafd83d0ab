/* The tag pages: "refresh now" with a progress bar (a queued refresh is followed at GET /api/v1/jobs/{id}), and
   the auto-tag rule editor (the advanced-query builder's condition rows: segments/conditions.js). */
const TAG_REFRESH_DONE = "shoal.tagRefreshDone";

function tagRefresh() {
  return {
    labels: JSON.parse(document.getElementById("refresh-labels").textContent),
    busy: false, progress: 0, error: "",
    async run(url) {
      this.busy = true; this.progress = 0; this.error = "";
      try {
        const data = await shoalCall("POST", url);
        if (data.job_id) await this.follow(data.job_id);
        else this.finish(data.message);
      } catch (e) { this.error = e.message; this.busy = false; }
    },
    async follow(id) {
      for (;;) {
        await new Promise(resolve => setTimeout(resolve, 1000));
        const run = await shoalCall("GET", "/api/v1/jobs/" + id);
        if (run.progress && run.progress.total) this.progress = Math.round(100 * run.progress.done / run.progress.total);
        if (run.status === "succeeded") { this.finish(this.format(run.result)); return; }
        if (run.status === "failed") { this.error = this.labels.failed; this.busy = false; return; }
      }
    },
    format(result) {
      return this.labels.done.replace(/%\((\w+)\)s/g, (m, key) => (result && result[key] !== undefined ? result[key] : 0));
    },
    finish(message) {
      // the counts on the page changed: reload it and show the result there
      this.progress = 100;
      sessionStorage.setItem(TAG_REFRESH_DONE, message);
      window.location.reload();
    },
  };
}

function tagRefreshResult() {
  const message = sessionStorage.getItem(TAG_REFRESH_DONE);
  sessionStorage.removeItem(TAG_REFRESH_DONE);
  return {message: message || ""};
}

function tagRuleEditor() {
  return {
    ...conditionRows("rule-labels"),
    mode: "rows", previewCount: null, sample: [], error: "", previewing: false,

    async init() {
      const form = document.getElementById("rule-form");
      this.mode = form.dataset.mode || "rows";
      await this.loadFields();
      const saved = JSON.parse(document.getElementById("id_rows").value || "[]");
      this.rows = saved.length ? saved.map(r => this.savedRow(r)) : this.treeToRows(this.labels.tree);
      if (!this.rows.length) this.addRow();
    },
    changed() { this.previewCount = null; this.error = ""; },
    selected(id) { return Array.from(document.getElementById(id).selectedOptions).map(o => parseInt(o.value, 10)); },
    body() {
      return {mode: this.mode, rows: this.mode === "rows" ? this.apiRows() : [], sql: document.getElementById("id_sql").value,
              include_tags: this.selected("id_include_tags"), exclude_tags: this.selected("id_exclude_tags")};
    },
    async preview() {
      this.previewing = true;
      try {
        const data = await shoalCall("POST", document.getElementById("rule-form").dataset.previewUrl, this.body());
        this.previewCount = data.count; this.sample = data.sample; this.error = "";
      } catch (e) { this.previewCount = null; this.sample = []; this.error = e.message; }
      this.previewing = false;
    },
    submit(event) {
      document.getElementById("id_rows").value = this.mode === "rows" ? JSON.stringify(this.apiRows()) : "";
      event.target.submit();
    },
  };
}
