// Today's history (the audit trail).

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { actionText, clock, docType, outcomeText, reasonText, signGroupText, signGroupToggle,
  t } from "./i18n.js";
import { errorNote, every, lostSession, noteEl, nowS, page, paint, screen } from "./shell.js";
import { showQueue } from "./queue.js";

// --- history ---------------------------------------------------------------------------

// Sign-ins and sign-outs one after another fold into one row (a wrong PIN never does).
const SIGN_ACTIONS = new Set(["login", "logout"]);

// The entries (newest first) as rows: an entry, or a run of sign-ins and sign-outs.
function foldSignIns(entries) {
  const rows = [];
  for (const e of entries) {
    const last = rows[rows.length - 1];
    if (SIGN_ACTIONS.has(e.action) && last && last.group) last.entries.push(e);
    else if (SIGN_ACTIONS.has(e.action)) rows.push({ group: true, entries: [e] });
    else rows.push({ group: false, entries: [e] });
  }
  return rows.flatMap((r) => (r.group && r.entries.length === 1 ? [{ group: false,
    entries: r.entries }] : [r]));
}

function entryRow(e, offset, extra = {}) {
  const why = e.action === "claim_wrong" && e.outcome === "refused" && e.reason !== "claim_wrong"
    ? "" : reasonText(e.reason);
  return h("tr", { testid: "history-row", "data-action": e.action, ...extra },
    h("td", {}, clock(e.at_s, nowS(), offset)),
    h("td", {}, e.operator_name || e.operator || t("system")),
    h("td", {}, actionText(e.action, e.outcome, e.reason), why ? h("small", {}, why) : null),
    h("td", {}, (e.doc_types || []).map(docType).join(", ")),
    h("td", { class: `outcome ${e.outcome}` }, outcomeText(e.outcome)));
}

function groupRows(group, s) {
  const entries = group.entries;
  const key = `${entries[entries.length - 1].at_s}`;  // its first sign-in: stable as it grows
  const open = s.open.has(key);
  const first = clock(entries[entries.length - 1].at_s, nowS(), s.offset);
  const last = clock(entries[0].at_s, nowS(), s.offset);
  const names = [...new Set(entries.map((e) => e.operator_name || e.operator || t("system")))];
  const toggle = button(signGroupToggle(open), () => {
    if (open) s.open.delete(key);
    else s.open.add(key);
    paint();
  }, { kind: "small quiet", testid: "history-group-toggle", extra: { "aria-expanded": open } });
  const head = h("tr", { class: "group", testid: "history-group", "data-count": entries.length },
    h("td", {}, first === last ? first : `${first}–${last}`),
    h("td", {}, names.join(", ")),
    h("td", {}, signGroupText(entries.length)),
    h("td", {}),
    h("td", {}, toggle));
  return [head, ...(open ? entries.map((e) => entryRow(e, s.offset, { class: "in-group" })) : [])];
}

function historyScreen() {
  const s = {
    name: "history", note: null, entries: null, open: new Set(),
    enter() {
      every(15000, async () => {
        try {
          const answer = await api.get("/api/history");
          s.entries = answer.entries;
          s.offset = answer.utc_offset_s;
        } catch (error) {
          if (error instanceof api.ApiError && !lostSession(error)) s.note = errorNote(error);
          else throw error;
        }
        if (screen === s) paint();
      });
    },
    render() {
      let body;
      if (s.entries === null) body = h("p", { class: "lead" }, t("loading"));
      else if (s.entries.length === 0) {
        body = h("p", { class: "empty", testid: "history-empty" }, t("history_empty"));
      } else {
        const head = h("tr", {}, ["h_time", "h_operator", "h_action", "h_docs", "h_outcome"]
          .map((k) => h("th", { scope: "col" }, t(k))));
        const rows = foldSignIns(s.entries).flatMap((r) =>
          (r.group ? groupRows(r, s) : [entryRow(r.entries[0], s.offset)]));
        body = h("div", { class: "scroll" },
          h("table", { class: "history", testid: "history-table" }, h("thead", {}, head),
            h("tbody", {}, rows)));
      }
      return page("history", t("history_title"), [noteEl(s.note), body], { footer:
        button(t("back_to_queue"), () => showQueue(), { kind: "primary", testid: "back-to-queue" }),
      });
    },
  };
  return s;
}

export { historyScreen };
