/* The condition rows of the advanced-query builder (parentheses, field, operator, value, AND/OR), shared by the
   advanced query page and the auto-tag rule editor. A page mixes conditionRows(labelsId) into its Alpine
   component (labels: the JSON of segments.views.condition_labels) and defines mode and changed(); a page with
   pickers (whole nodes such as {"tags_any": [ids]}) overrides isPickerNode, pickerRows and pickNode.
   Row fields (a field with an argument, e.g. "event count" of an event type: the fields with `arg`) are
   listed under their heading; such a row is sent as {field, <arg.key>: choice, op, value}. */
function shoalCsrf() { return document.querySelector("input[name=csrfmiddlewaretoken]").value; }

async function shoalCall(method, url, body) {
  // the JSON API with the session: an error answer becomes an Error with the server's message
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": shoalCsrf()},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? {} : await response.json();
  if (!response.ok) {
    const err = (data && data.error) || {message: response.statusText};
    throw new Error(err.message);
  }
  return data;
}

let conditionRowSeq = 0;

function conditionRows(labelsId) {
  return {
    labels: JSON.parse(document.getElementById(labelsId).textContent),
    fields: [], rows: [],
    async loadFields() { this.fields = await shoalCall("GET", "/api/v1/segments/fields?filter_only=true"); },
    isPickerNode(node) { return false; },
    pickerRows() { return []; },
    pickNode(node) {},
    field(row) { return this.fields.find(f => f.key === row.field) || {type: "text", operators: [], choices: []}; },
    plainFields() { return this.fields.filter(f => !f.arg); },
    fieldGroups() {
      // the row fields under their headings, in the order the server lists them
      const groups = [];
      this.fields.filter(f => f.arg).forEach(f => {
        let group = groups.find(g => g.label === f.group);
        if (!group) { group = {label: f.group, fields: []}; groups.push(group); }
        group.fields.push(f);
      });
      return groups;
    },
    pickField(row) {
      // a new field: its first operator, no value; the event type stays when moving between the event fields
      const arg = this.field(row).arg;
      if (!arg || !arg.choices.some(c => c.value === row.arg)) row.arg = "";
      row.op = this.ops(row)[0] || ""; row.value = ""; row.value2 = "";
    },
    argChoices(row) {
      // the enabled choices, and the one the row names if it is not (a disabled event type of a saved row)
      const arg = this.field(row).arg;
      if (!arg) return [];
      const shown = arg.choices.filter(c => c.enabled || c.value === row.arg);
      if (row.arg && !shown.some(c => c.value === row.arg)) shown.push({value: row.arg, label: row.arg, enabled: false});
      return shown;
    },
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
      this.rows.push({key: ++conditionRowSeq, lparen: "", field: "", arg: "", op: "", value: "", value2: "", rparen: "", logic: "and"});
    },
    activeRows() { return this.rows.filter(r => r.field); },
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
      return this.activeRows().map(r => {
        const row = {lparen: r.lparen, field: r.field, op: r.op, value: this.rowValue(r), rparen: r.rparen, logic: r.logic};
        const arg = this.field(r).arg;
        if (arg) row[arg.key] = r.arg;
        return row;
      }).concat(this.pickerRows());
    },
    async tree() {
      if (!this.activeRows().length && !this.pickerRows().length) return null;
      return (await shoalCall("POST", "/api/v1/segments/from-rows", {rows: this.apiRows()})).query;
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
      return this.mode === "rows" && (!this.balanced() || this.activeRows().some(r => !r.op || (this.field(r).arg && !r.arg) || (!this.noValue(r) &&
        (r.value === "" || r.value === null || (this.isList(r) && !this.rowValue(r).length) ||
         (r.op === "between" && (r.value2 === "" || r.value2 === null))))));
    },
    savedRow(r) {
      // a row saved with the query, back into the form
      let value = r.value === undefined || r.value === null ? "" : r.value, value2 = "";
      if (Array.isArray(value) && r.op === "between") { value2 = value[1] === null ? "" : value[1]; value = value[0]; }
      else if (Array.isArray(value)) value = value.join(", ");
      if (typeof value === "boolean") value = String(value);
      const arg = this.field(r).arg;
      return {key: ++conditionRowSeq, lparen: r.lparen || "", field: r.field || "", arg: arg && r[arg.key] ? String(r[arg.key]) : "",
              op: r.op || "", value: value === null ? "" : value, value2, rparen: r.rparen || "", logic: r.logic || "and"};
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
        // a row field's node ({event_count: {event, op, value}}) is a row like a field's leaf
        const rowField = this.fields.find(f => f.arg && node[f.key] && typeof node[f.key] === "object" && Object.keys(node).length === 1);
        const leaf = rowField ? node[rowField.key] : node;
        let value = leaf.value === undefined ? "" : leaf.value, value2 = "";
        if (Array.isArray(value) && leaf.op === "between") { value2 = value[1]; value = value[0]; }
        else if (Array.isArray(value)) value = value.join(", ");
        rows.push({key: ++conditionRowSeq, lparen: "", field: rowField ? rowField.key : node.field,
                   arg: rowField && leaf[rowField.arg.key] ? String(leaf[rowField.arg.key]) : "", op: leaf.op,
                   value: value === null ? "" : value, value2, rparen: "", logic});
      };
      if (tree) walk(tree, "and", null);
      return rows.length ? rows : [];
    },
  };
}
