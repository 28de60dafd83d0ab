/* The strategy editor: event and validity window, condition rows over the event's fields (conditions.js's
   rows with the event type's fields), optional condition rows over the customer, and actions. Saved through
   the JSON API (POST /api/v1/strategies, PATCH /api/v1/strategies/{id}); the server turns the rows into
   condition trees and checks everything (fields, operators, processors, placeholders). */
function strategyEditorData() { return JSON.parse(document.getElementById("strategy-editor").textContent); }

let strategyActionSeq = 0;

function serverLocalInput(labels, iso) {
  // an ISO time from the server → "YYYY-MM-DDTHH:MM" in the server's zone (a datetime-local input)
  if (!iso) return "";
  const date = new Date(iso);
  if (isNaN(date)) return "";
  const parts = {};
  new Intl.DateTimeFormat("en-GB", {timeZone: labels.timeZone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23"}).formatToParts(date).forEach(p => { parts[p.type] = p.value; });
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

function savedRows(part, rows, tree) {
  // the rows as written on the page, else rows made from the tree (saved through the API)
  if (Array.isArray(rows) && rows.length) return rows.map(r => part.savedRow(r));
  return part.treeToRows(tree);
}

function eventRows() {
  const data = strategyEditorData();
  return {
    ...conditionRows("strategy-labels"),
    mode: "rows", event: data.strategy.event || "",
    async init() {
      await this.loadFields();
      this.rows = savedRows(this, data.strategy.condition_rows, data.strategy.conditions);
    },
    async loadFields() {
      this.fields = this.event ? await shoalCall("GET", "/api/v1/strategies/fields?event=" + encodeURIComponent(this.event)) : [];
    },
    async setEvent(code) {
      this.event = code;
      await this.loadFields();
      const known = new Set(this.fields.map(f => f.key));
      this.rows = this.rows.filter(r => !r.field || known.has(r.field));
    },
    changed() {},
  };
}

function customerRows() {
  const data = strategyEditorData();
  return {
    ...conditionRows("strategy-labels"),
    mode: "rows", unavailable: false,
    async init() {
      try { await this.loadFields(); } catch (e) { this.unavailable = true; return; }
      this.rows = savedRows(this, data.strategy.customer_condition_rows, data.strategy.customer_conditions);
    },
    changed() {},
  };
}

function strategyEditor() {
  const data = strategyEditorData();
  const labels = JSON.parse(document.getElementById("strategy-labels").textContent);
  const s = data.strategy;
  const action = a => ({
    key: ++strategyActionSeq, processor: a.processor || "",
    params: JSON.stringify(a.params || {}, null, 1),
    mode: a.at ? "at" : (a.delay_hours !== null && a.delay_hours !== undefined ? "delay" : "now"),
    hours: a.delay_hours === null || a.delay_hours === undefined ? "" : a.delay_hours,
    at: serverLocalInput(labels, a.at),
  });
  return {
    labels, events: data.events, groups: data.groups, processors: data.processors, listUrl: data.listUrl,
    id: s.id, name: s.name || "", groupId: s.group_id ? String(s.group_id) : "", event: s.event || "",
    order: s.order === null || s.order === undefined ? "" : s.order,
    validFrom: serverLocalInput(labels, s.valid_from), validTo: serverLocalInput(labels, s.valid_to),
    actions: (s.actions || []).map(action), error: "", ok: "", saving: false,
    init() { if (!this.actions.length) this.addAction(); },
    addAction() { this.actions.push(action({processor: "", params: {}})); },
    hint(a) {
      const p = this.processors.find(x => x.ref === a.processor);
      if (!p || !p.params.length) return "";
      return p.params.map(x => x.key + (x.required ? " *" : "") + (x.description ? ": " + x.description : "")).join("; ");
    },
    rowsOf(id) {
      const part = Alpine.$data(document.getElementById(id));  // a nested component: not in this one's $refs
      if (part.unavailable) return {rows: null, incomplete: false};
      const rows = part.apiRows();
      return {rows: rows.length ? rows : null, incomplete: part.incomplete()};
    },
    body() {
      const conditions = this.rowsOf("event-conditions"), customer = this.rowsOf("customer-conditions");
      if (conditions.incomplete || customer.incomplete) throw new Error(this.labels.incomplete);
      const actions = this.actions.map((a, i) => {
        let params;
        try { params = a.params.trim() ? JSON.parse(a.params) : {}; }
        catch (e) { throw new Error(this.labels.badParams.replace("%(n)s", i + 1)); }
        return {processor: a.processor, params,
                delay_hours: a.mode === "delay" && a.hours !== "" ? Number(a.hours) : null,
                at: a.mode === "at" && a.at ? a.at : null};
      });
      const body = {
        name: this.name, group_id: this.groupId ? parseInt(this.groupId, 10) : null, event: this.event,
        valid_from: this.validFrom || null, valid_to: this.validTo || null,
        conditions: null, condition_rows: conditions.rows,
        customer_conditions: null, customer_condition_rows: customer.rows, actions,
      };
      if (this.order !== "" && this.order !== null) body.order = parseInt(this.order, 10);
      return body;
    },
    async save() {
      this.error = ""; this.ok = ""; this.saving = true;
      try {
        const body = this.body();
        const saved = this.id ? await shoalCall("PATCH", "/api/v1/strategies/" + this.id, body)
                              : await shoalCall("POST", "/api/v1/strategies", body);
        this.ok = saved.review_status === "approved" ? this.labels.saved : this.labels.savedReview;
        if (!this.id) { window.location.href = this.listUrl + saved.id + "/"; return; }
      } catch (e) { this.error = e.message; }
      this.saving = false;
    },
  };
}
