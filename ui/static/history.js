// Today's history (the audit trail).

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { actionText, clock, docType, outcomeText, reasonText, t } from "./i18n.js";
import { errorNote, every, lostSession, noteEl, nowS, page, paint, screen } from "./shell.js";
import { showQueue } from "./queue.js";

// --- history ---------------------------------------------------------------------------

function historyScreen() {
  const s = {
    name: "history", note: null, entries: null,
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
        const rows = s.entries.map((e) => {
          const why = reasonText(e.reason);
          return h("tr", { testid: "history-row", "data-action": e.action },
            h("td", {}, clock(e.at_s, nowS(), s.offset)),
            h("td", {}, e.operator_name || e.operator || t("system")),
            h("td", {}, actionText(e.action), why ? h("small", {}, why) : null),
            h("td", {}, (e.doc_types || []).map(docType).join(", ")),
            h("td", { class: `outcome ${e.outcome}` }, outcomeText(e.outcome)));
        });
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
