/* The advanced query page: rows → tree (server), preview count, search, saved queries. Uses the JSON API.
   Pickers (include tags (any of), exclude tags (none of)) add whole nodes ({"tags_any": [ids]}) to the rows
   sent; the server ANDs them with the condition of the rows. */
function queryBuilder() {
  const csrf = () => document.querySelector("input[name=csrfmiddlewaretoken]").value;
  let seq = 0;
  async function call(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? {} : await response.json();
    if (!response.ok) {
      const err = (data && data.error) || {message: response.statusText};
      throw new Error(err.message);
    }
    return data;
  }
  const labels = JSON.parse(document.getElementById("query-labels").textContent);
  const pickers = labels.pickers || [];
  const emptyPicks = () => Object.fromEntries(pickers.map(p => [p.kind, []]));
  return {
    labels, pickers, picked: emptyPicks(),
    mode: "rows", fields: [], rows: [], sql: "", keyword: "", sortField: "", sortDir: "desc",
    page: 1, pageSize: 20, jump: 1, result: null, previewCount: null, error: "", ok: "",
    schemes: [], schemeId: "", schemeName: "", schemeShared: false,

    async init() {
      this.fields = await call("GET", "/api/v1/segments/fields?filter_only=true");
      this.addRow();
      await this.loadSchemes();
    },
    field(row) { return this.fields.find(f => f.key === row.field) || {type: "text", operators: [], choices: []}; },
    ops(row) { return this.field(row).operators; },
    noValue(row) { return row.op === "is_empty" || row.op === "is_not_empty"; },
    isList(row) { return row.op === "in" || row.op === "not_in"; },
    inputType(row) {
      const t = this.field(row).type;
      if (row.op === "within_last_days" || row.op === "older_than_days") return "number";
      if (this.isList(row)) return "text";
      return {number: "number", date: "date", datetime: "datetime-local"}[t] || "text";
    },
    addRow() {
      // an empty row: no field yet (ignored until one is chosen)
      this.rows.push({key: ++seq, lparen: "", field: "", op: "", value: "", value2: "", rparen: "", logic: "and"});
    },
    activeRows() { return this.rows.filter(r => r.field); },
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
    enumLabel(field, code) {
      const labels = (this.labels.enums || {})[field] || {};
      return code === null || code === undefined ? "" : (labels[code] || code);
    },
    localTime(iso) {
      // the server's TIME_ZONE, as the other pages: 2026-12-01 06:54:34
      if (!iso) return "";
      const date = new Date(iso);
      if (isNaN(date)) return iso;
      const parts = {};
      new Intl.DateTimeFormat("en-GB", {timeZone: this.labels.timeZone, year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"})
        .formatToParts(date).forEach(p => { parts[p.type] = p.value; });
      return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
    },
    scalar(row, raw) {
      const t = this.field(row).type;
      if (row.op === "within_last_days" || row.op === "older_than_days") return raw === "" ? null : parseInt(raw, 10);
      if (t === "number") return raw === "" || isNaN(Number(raw)) ? raw : Number(raw);
      if (t === "boolean") return raw === "true" || raw === true ? true : (raw === "false" || raw === false ? false : raw);
      if (t === "datetime" && raw) return raw.length === 16 ? raw + ":00" : raw;
      return raw;
    },
    rowValue(row) {
      if (this.noValue(row)) return undefined;
      if (this.isList(row)) return String(row.value).split(/[,，]/).map(s => s.trim()).filter(s => s).map(v => this.scalar(row, v));
      if (row.op === "between") return [this.scalar(row, row.value), this.scalar(row, row.value2)];
      return this.scalar(row, row.value);
    },
    apiRows() {
      return this.activeRows().map(r => ({lparen: r.lparen, field: r.field, op: r.op, value: this.rowValue(r),
                                  rparen: r.rparen, logic: r.logic})).concat(this.pickerRows());
    },
    async tree() {
      if (!this.activeRows().length && !this.pickerRows().length) return null;
      return (await call("POST", "/api/v1/segments/from-rows", {rows: this.apiRows()})).query;
    },
    async rule() {
      if (this.mode === "sql") return {query: null, sql: this.sql};
      return {query: await this.tree(), sql: null};
    },
    balanced() {
      // the parentheses of the rows so far: every ')' closes an open '(' and none stays open
      let depth = 0;
      for (const r of this.activeRows()) {
        depth += (r.lparen || "").split("(").length - 1;
        depth -= (r.rparen || "").split(")").length - 1;
        if (depth < 0) return false;
      }
      return depth === 0;
    },
    incomplete() {
      // a half-written condition (no operator, no value, open parentheses) is not sent to the server yet
      return this.mode === "rows" && (!this.balanced() || this.activeRows().some(r => !r.op || (!this.noValue(r) &&
        (r.value === "" || r.value === null || (this.isList(r) && !this.rowValue(r).length) ||
         (r.op === "between" && (r.value2 === "" || r.value2 === null))))));
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
    savedRow(r) {
      // a row saved with the query, back into the form
      let value = r.value === undefined || r.value === null ? "" : r.value, value2 = "";
      if (Array.isArray(value) && r.op === "between") { value2 = value[1] === null ? "" : value[1]; value = value[0]; }
      else if (Array.isArray(value)) value = value.join(", ");
      if (typeof value === "boolean") value = String(value);
      return {key: ++seq, lparen: r.lparen || "", field: r.field || "", op: r.op || "", value: value === null ? "" : value,
              value2, rparen: r.rparen || "", logic: r.logic || "and"};
    },
    treeToRows(tree) {
      // A query saved without its rows (e.g. through the API): rows with the parentheses the tree
      // needs (AND binds tighter than OR, so an AND group inside an OR needs none; the whole, none).
      const rows = [];
      const walk = (node, logic, parentKind) => {
        if (this.isPickerNode(node)) { this.pickNode(node); return; }  // exact at the top (AND-ed with the rest)
        if (node.all || node.any) {
          const kind = node.all ? "and" : "or";
          const items = (node.all || node.any).filter(child => {
            if (!this.isPickerNode(child)) return true;
            this.pickNode(child);
            return false;
          });
          if (!items.length) return;
          const start = rows.length;
          items.forEach((child, i) => walk(child, i < items.length - 1 ? kind : logic, kind));
          const parens = parentKind && items.length > 1 && !(parentKind === "or" && kind === "and");
          if (parens) { rows[start].lparen += "("; rows[rows.length - 1].rparen += ")"; }
          rows[rows.length - 1].logic = logic;
          return;
        }
        if (node.not) { walk(node.not, logic, parentKind); return; }  // NOT is kept only in SQL/JSON; shown as its inner rows
        let value = node.value === undefined ? "" : node.value, value2 = "";
        if (Array.isArray(value) && node.op === "between") { value2 = value[1]; value = value[0]; }
        else if (Array.isArray(value)) value = value.join(", ");
        rows.push({key: ++seq, lparen: "", field: node.field, op: node.op, value: value === null ? "" : value,
                   value2, rparen: "", logic});
      };
      if (tree) walk(tree, "and", null);
      return rows.length ? rows : [];
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
