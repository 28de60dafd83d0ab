/* The advanced query page: rows → tree (server), preview count, search, saved queries. Uses the JSON API;
   the condition rows are conditions.js's.
   Pickers (include tags (any of), exclude tags (none of)) add whole nodes ({"tags_any": [ids]}) to the rows
   sent; the server ANDs them with the condition of the rows. */
function queryBuilder() {
  const call = shoalCall;
  const rowsPart = conditionRows("query-labels");
  const labels = rowsPart.labels;
  const pickers = labels.pickers || [];
  const emptyPicks = () => Object.fromEntries(pickers.map(p => [p.kind, []]));
  return {
    ...rowsPart,
    pickers, picked: emptyPicks(),
    mode: "rows", sql: "", keyword: "", sortField: "", sortDir: "desc",
    page: 1, pageSize: 20, jump: 1, result: null, previewCount: null, error: "", ok: "",
    schemes: [], schemeId: "", schemeName: "", schemeShared: false,

    async init() {
      await this.loadFields();
      this.addRow();
      await this.loadSchemes();
    },
    isPickerNode(node) {
      return !!node && typeof node === "object" && !Array.isArray(node) && Object.keys(node).length === 1 &&
        Object.prototype.hasOwnProperty.call(this.picked, Object.keys(node)[0]);
    },
    pickerRows() {
      // the pickers as whole nodes, e.g. {tags_any: [3, 5]}
      return this.pickers.filter(p => this.picked[p.kind].length).map(p => ({[p.kind]: [...this.picked[p.kind]]}));
    },
    pickNode(node) {
      const [kind, ids] = Object.entries(node)[0];
      (Array.isArray(ids) ? ids : []).forEach(id => { if (!this.picked[kind].includes(id)) this.picked[kind].push(id); });
    },
    pick(kind, value) {
      const id = parseInt(value, 10);
      if (!isNaN(id) && !this.picked[kind].includes(id)) { this.picked[kind].push(id); this.changed(); }
    },
    unpick(kind, id) { this.picked[kind] = this.picked[kind].filter(x => x !== id); this.changed(); },
    itemLabel(item) { return item.personal ? this.labels.personalTag.replace("%(name)s", item.label) : item.label; },
    choiceLabel(picker, id) {
      for (const g of picker.groups) {
        const item = g.items.find(i => i.id === id);
        if (item) return this.itemLabel(item);
      }
      return "#" + id;
    },
    async rule() {
      if (this.mode === "sql") return {query: null, sql: this.sql};
      return {query: await this.tree(), sql: null};
    },
    async changed() {
      this.ok = "";
      if (this.incomplete()) { this.previewCount = null; this.error = ""; return; }
      try {
        const rule = await this.rule();
        if (!rule.query && !rule.sql) { this.previewCount = null; this.error = ""; return; }
        const data = await call("POST", "/api/v1/segments/preview", rule);
        this.previewCount = data.count; this.error = "";
      } catch (e) { this.previewCount = null; this.error = e.message; }
    },
    async validateSql() {
      try { await call("POST", "/api/v1/segments/validate", {sql: this.sql}); this.error = ""; this.ok = this.labels.valid; await this.changed(); }
      catch (e) { this.error = e.message; this.ok = ""; }
    },
    sort() { return this.sortField ? [{field: this.sortField, dir: this.sortDir}] : []; },
    pages() { return this.result ? Math.max(1, Math.ceil(this.result.total / this.pageSize)) : 1; },
    async search() {
      try {
        const rule = await this.rule();
        this.result = await call("POST", "/api/v1/customers/search", {
          ...rule, keyword: this.keyword || null, sort: this.sort(), page: this.page, page_size: this.pageSize});
        this.error = ""; this.jump = this.page;
      } catch (e) { this.error = e.message; }
    },
    async exportQuery(url) {
      // the export page (fields, format) for the current query: posted, as a tree may be long for a URL
      try {
        const rule = await this.rule();
        const values = {query: rule.query ? JSON.stringify(rule.query) : "", sql: rule.sql || "", keyword: this.keyword || ""};
        const form = document.createElement("form");
        form.method = "post"; form.action = url;
        const token = document.querySelector("input[name=csrfmiddlewaretoken]");
        if (token) values.csrfmiddlewaretoken = token.value;
        Object.entries(values).forEach(([name, value]) => {
          const input = document.createElement("input");
          input.type = "hidden"; input.name = name; input.value = value; form.appendChild(input);
        });
        document.body.appendChild(form);
        form.submit();
      } catch (e) { this.error = e.message; }
    },
    async loadSchemes() { this.schemes = await call("GET", "/api/v1/saved-queries"); },
    currentScheme() { return this.schemes.find(s => String(s.id) === String(this.schemeId)); },
    async applyScheme() {
      const s = this.currentScheme();
      if (!s) return;
      this.schemeName = s.name; this.schemeShared = s.shared;
      const sort = (s.sort || [])[0];
      this.sortField = sort ? sort.field : ""; this.sortDir = sort ? sort.dir : "desc";
      this.picked = emptyPicks();
      if (s.sql) { this.mode = "sql"; this.sql = s.sql; }
      else if (s.rows) {
        this.mode = "rows";
        s.rows.filter(r => this.isPickerNode(r)).forEach(r => this.pickNode(r));
        this.rows = s.rows.filter(r => !this.isPickerNode(r)).map(r => this.savedRow(r));
      }
      else { this.mode = "rows"; this.rows = this.treeToRows(s.query); }
      if (!this.rows.length) this.addRow();
      this.page = 1;
      await this.changed();
      await this.search();
    },
    async saveScheme() {
      try {
        const rule = await this.rule();
        const rows = this.mode === "rows" && rule.query ? this.apiRows() : null;  // reloaded as written
        const body = {name: this.schemeName, query: rule.query, rows, sql: rule.sql || "", sort: this.sort(), shared: this.schemeShared};
        const existing = this.schemes.find(s => s.mine && s.name === this.schemeName);
        const saved = existing ? await call("PATCH", "/api/v1/saved-queries/" + existing.id, body)
                               : await call("POST", "/api/v1/saved-queries", body);
        await this.loadSchemes();
        this.schemeId = String(saved.id); this.ok = this.labels.saved; this.error = "";
      } catch (e) { this.error = e.message; this.ok = ""; }
    },
    async deleteScheme() {
      const s = this.currentScheme();
      if (!s || !confirm(this.labels.confirmDelete)) return;
      await call("DELETE", "/api/v1/saved-queries/" + s.id);
      this.schemeId = ""; await this.loadSchemes();
    },
  };
}
