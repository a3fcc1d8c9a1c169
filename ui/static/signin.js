// The sign-in screen: operators, then a PIN (the PIN entry is shared by other screens).

import * as api from "./api.js";
import { button, h, keyAction, keypad } from "./dom.js";
import { t } from "./i18n.js";
import { SESSION_IDLE_S, act, app, errorNote, every, lostSession, note, noteEl, page, paint, screen,
  setNote, show } from "./shell.js";
import { showQueue } from "./queue.js";

const PIN_MAX = 8;

// --- sign-in ---------------------------------------------------------------------------

async function showSignIn(first = null) {
  const s = {
    name: "signin", signedIn: false, note: first, loaded: false,
    enter() {
      every(10000, async () => {
        const answer = await api.get("/api/operators");
        const before = JSON.stringify(app.operators);
        app.operators = answer.operators;
        if (!s.loaded || before !== JSON.stringify(app.operators)) {
          s.loaded = true;
          if (screen === s) paint();
        }
      });
    },
    render() {
      let body;
      if (!s.loaded) body = h("p", { class: "lead" }, t("loading"));
      else if (app.operators.length === 0) {
        body = h("div", { class: "note warn big", testid: "no-operators" }, t("no_operators"));
      } else {
        body = h("div", { class: "operators", testid: "operators" }, app.operators.map((op) =>
          button([h("span", { class: "name" }, op.name),
            op.role === "supervisor" ? h("small", {}, t("supervisor")) : null],
          () => show(loginPinScreen(op)), { kind: "operator", testid: `operator-${op.id}` })));
      }
      const pick = app.operators.length ? h("p", { class: "lead" }, t("signin_pick")) : null;
      return page("signin", t("signin_title"), [pick, noteEl(s.note), body]);
    },
  };
  show(s);
}

function loginPinScreen(op) {
  return pinScreen({
    name: "pin", signedIn: false,
    title: () => t("pin_title", { name: op.name }),
    help: () => t("pin_help"),
    submitLabel: () => t("sign_in"),
    back: () => showSignIn(),
    async submit(pin) {
      try {
        await signIn(op, pin);
      } catch (error) {
        // The district's one-time PIN (ADR 0034): right, but the operator chooses their own
        // PIN first; nothing else accepts it.
        if (!(error instanceof api.ApiError && error.code === "pin_change_required")) throw error;
        show(newPinScreen(op, pin));
      }
    },
  });
}

async function signIn(op, pin) {
  const answer = await api.post("/api/login", { operator: op.id, pin });
  api.setSession(answer.session);
  app.operator = answer.operator;
  app.idleS = answer.idle_s || SESSION_IDLE_S;
  await showQueue();
}

// The operator's own PIN after the district's one-time PIN: typed twice, then set with the
// one-time PIN (POST /api/pin) and used to sign in.
function newPinScreen(op, oneTimePin, first = null, n = null) {
  return pinScreen({
    name: "new-pin", signedIn: false, note: n,
    title: () => t(first === null ? "new_pin_title" : "new_pin_again_title", { name: op.name }),
    help: () => t("new_pin_help"),
    submitLabel: () => t("confirm_pin"),
    back: () => showSignIn(),
    async submit(pin) {
      if (first === null) {
        show(newPinScreen(op, oneTimePin, pin));
        return;
      }
      if (pin !== first) {
        show(newPinScreen(op, oneTimePin, null, note("error", "new_pin_mismatch")));
        return;
      }
      await api.post("/api/pin", { operator: op.id, pin: oneTimePin, new_pin: pin });
      await signIn(op, pin);
    },
  });
}

// A PIN entry: dots instead of digits, keypad and hardware keys.
function pinScreen(opts) {
  const s = {
    name: opts.name, signedIn: opts.signedIn, idle: opts.idle, pin: "", note: opts.note || null,
    key(e) {
      const a = keyAction(e);
      if (a === null) return;
      e.preventDefault();
      if (a === "enter") s.submit();
      else if (a === "back") s.edit(s.pin.slice(0, -1));
      else if (a === "clear") s.edit("");
      else if (s.pin.length < PIN_MAX) s.edit(s.pin + a);
    },
    edit(pin) {
      s.pin = pin;
      paint();
    },
    submit() {
      if (s.pin.length < 4) return;
      act(async () => {
        const pin = s.pin;
        s.pin = "";
        try {
          await opts.submit(pin);
        } catch (error) {
          if (lostSession(error)) throw error;
          const n = errorNote(error);
          const wait = error instanceof api.ApiError ? error.error.retry_after_s : null;
          if (wait) {
            n.extraKey = "locked_minutes";
            n.extraParams = { n: Math.max(1, Math.ceil(wait / 60)) };
          }
          if (screen === s) setNote(n);
          else throw error;
        }
      });
    },
    render() {
      const dots = h("div", { class: "pin-display", testid: "pin-display",
        "data-length": s.pin.length, "aria-label": `${s.pin.length}` },
      s.pin.length ? "●".repeat(s.pin.length) : h("span", { class: "placeholder" }, "––––"));
      const left = h("div", { class: "col" },
        h("p", { class: "lead" }, opts.help()),
        dots,
        noteEl(s.note),
        h("div", { class: "row" },
          button(t("back"), opts.back, { kind: "quiet", testid: "back" }),
          button(opts.submitLabel(), () => s.submit(),
            { kind: "primary", testid: "pin-submit", disabled: s.pin.length < 4 })));
      const pad = keypad({
        onDigit: (d) => { if (s.pin.length < PIN_MAX) s.edit(s.pin + d); },
        onBack: () => s.edit(s.pin.slice(0, -1)),
        onClear: () => s.edit(""),
      });
      return page(opts.name, opts.title(), h("div", { class: "split" }, left, pad));
    },
  };
  return s;
}

export { pinScreen, showSignIn };
