// Release by the resident's claim code.

import * as api from "./api.js";
import { button, groupDigits, h, keyAction, keypad } from "./dom.js";
import { countdown, t } from "./i18n.js";
import { act, announce, errorNote, lostSession, note, noteEl, page, paint, screen, setNote,
  show } from "./shell.js";
import { showQueue } from "./queue.js";
import { bundleScreen } from "./bundle.js";

const CODE_DIGITS = 12;
// The code opened a job that is no longer held (protocol 10.3): said as it is, not a guess.
const SPENT = new Set(["claim_used", "claim_cancelled", "claim_expired"]);

// --- release by code -------------------------------------------------------------------

function claimScreen(first = null) {
  const s = {
    name: "claim", idle: true, code: "", note: first, lockedUntil: 0, fresh: false,
    locked() {
      return s.lockedUntil > Date.now();
    },
    key(e) {
      const a = keyAction(e);
      if (a === null) return;
      e.preventDefault();
      if (a === "enter") s.submit();
      else if (a === "back") s.edit(s.code.slice(0, -1));
      else if (a === "clear") s.edit("");
      else s.digit(a);
    },
    digit(d) {
      if (s.locked()) return;
      if (s.fresh) s.code = "";  // the next scan after a refusal starts over
      s.fresh = false;
      if (s.code.length < CODE_DIGITS) s.edit(s.code + d);
    },
    edit(code) {
      if (s.locked()) return;
      s.fresh = false;
      s.code = code;
      paint();
    },
    submit() {
      if (s.code.length !== CODE_DIGITS || s.locked()) return;
      act(async () => {
        s.note = note("info", "checking");
        paint();
        try {
          const answer = await api.post("/api/claim", { code: s.code });
          show(bundleScreen(answer, "code"));
        } catch (error) {
          if (!(error instanceof api.ApiError) || lostSession(error)) throw error;
          s.fresh = true;
          if (error.code === "claim_malformed") {
            setNote(note("error", "claim_malformed"));
          } else if (error.code === "claim_locked") {
            s.lock(error.error.retry_after_s || 60, errorNote(error));
          } else if (SPENT.has(error.code)) {
            setNote(errorNote(error, "warn"));  // no guess: its job is no longer held
          } else {
            setNote(errorNote(error));
          }
        }
      });
    },
    // Locked for `seconds`: the keypad is off and the note counts down.
    lock(seconds, lockNote) {
      s.lockedUntil = Date.now() + seconds * 1000;
      s.lockNote = lockNote;
      s.tickLock();
    },
    enter() {
      // A lock set earlier (on this screen, another one, or by `cedoka release`) shows
      // as the screen opens, not after a whole code was typed in vain.
      // Only a hint: POST /api/claim enforces the lock, so a failed look is not shown.
      api.get("/api/claim").then((answer) => {
        if (answer.retry_after_s > 0 && screen === s && !s.locked()) {
          s.lock(answer.retry_after_s, note("error", "claim_locked_now"));
        }
      }, () => {});
    },
    tickLock() {
      if (s.locked()) {
        const left = (s.lockedUntil - Date.now()) / 1000;
        s.note = { ...s.lockNote, extraKey: "claim_locked_wait",
          extraParams: { t: countdown(left) } };
        if (!s.lockTimer) {
          announce(s.note);
          s.lockTimer = setInterval(() => { if (screen === s) s.tickLock(); }, 1000);
        }
      } else {
        clearInterval(s.lockTimer);
        s.lockTimer = null;
        s.note = null;
        s.code = "";
      }
      paint();
    },
    leave() {
      clearInterval(s.lockTimer);
    },
    render() {
      const locked = s.locked();
      const typed = groupDigits(s.code);
      const rest = groupDigits("0".repeat(CODE_DIGITS)).slice(typed.length).replace(/0/g, "_");
      const display = h("div", { class: `code-display${locked ? " locked" : ""}`,
        testid: "code-display", "data-value": s.code, "aria-label": typed },
      h("span", { class: "typed", testid: "code-typed" }, typed),
      h("span", { class: "rest", "aria-hidden": "true" }, rest));
      const left = h("div", { class: "col" },
        h("p", { class: "lead" }, t("claim_help")),
        display,
        h("p", { class: "count" }, t("claim_count", { n: s.code.length })),
        noteEl(s.note),
        h("div", { class: "row" },
          button(t("cancel"), () => showQueue(), { kind: "quiet", testid: "cancel" }),
          button(t("open_code"), () => s.submit(), { kind: "primary", testid: "open-code",
            disabled: locked || s.code.length !== CODE_DIGITS })));
      const pad = keypad({
        onDigit: (d) => s.digit(d),
        onBack: () => s.edit(s.code.slice(0, -1)),
        onClear: () => s.edit(""),
        disabled: locked,
      });
      return page("claim", t("claim_title"), h("div", { class: "split" }, left, pad));
    },
  };
  return s;
}

export { claimScreen };
