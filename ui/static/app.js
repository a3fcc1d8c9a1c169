// The kiosk screens: sign-in, queue, release by code or by staff, printing, confirm,
// history and settings. Every rule is the backend's; this file only shows and asks.

import * as api from "./api.js";
import { button, groupDigits, h, keyAction, keypad, noteBox } from "./dom.js";
import { actionText, ago, clock, countdown, docType, lang, msg, outcomeText, reasonText, setLang,
  t } from "./i18n.js";

const CODE_DIGITS = 12;
const PIN_MAX = 8;
const IDLE_MS = 120000;
const SESSION_IDLE_S = 900;
const JOBS_EVERY_MS = 3000;
const STATE_EVERY_MS = 6000;
const PROGRESS_EVERY_MS = 500;
const LINK_FRESH_S = 180;
const INK_LOW = 10;
const SPOIL_REASONS = ["blank", "jammed", "spoiled", "cut_off"];
const STAFF_REASONS = ["no_phone", "lost_code", "staff_job", "other"];
const PRINTER_REASONS = new Set(["offline", "stopped", "not_accepting", "media_empty",
  "media_not_a4", "no_queue", "no_printer", "cups_unavailable"]);

const app = { state: null, operator: null, operators: [], offsetS: 0, busy: false,
  idleS: SESSION_IDLE_S };
let screen = null;
let timers = [];
let lastActivity = Date.now();  // a screen change or an input
let lastInput = Date.now();  // a touch, click or key: someone is at the counter
const main = document.getElementById("main");
const live = document.getElementById("live");

// --- plumbing --------------------------------------------------------------------------

function nowS() {
  return Date.now() / 1000 + app.offsetS;
}

// The session ended (the API already sent the screen back to sign-in).
function lostSession(error) {
  return error instanceof api.ApiError && error.status === 401
    && /^(session|operator_removed$)/.test(error.code);
}

// {kind, key, params} or {kind, pair} → {kind, text} in the current language.
function note(kind, key, params) {
  return { kind, key, params };
}

function errorNote(error, kind = "error") {
  if (error instanceof api.ApiError && (error.message_id || error.message_en)) {
    return { kind, pair: error };
  }
  if (error instanceof api.ApiError && error.status === 0) return note(kind, "network_error");
  console.error(error);
  return note(kind, "unknown_error");
}

function noteText(n) {
  if (!n) return null;
  let text = n.pair ? msg(n.pair) : t(n.key, n.params);
  if (n.extraKey) text += " " + t(n.extraKey, n.extraParams);
  return { kind: n.kind, text };
}

function noteEl(n, testid) {
  return noteBox(noteText(n), testid);
}

function announce(n) {
  const shown = noteText(n);
  live.textContent = shown ? shown.text : "";
}

function setNote(n) {
  screen.note = n;
  announce(n);
  paint();
}

function every(ms, fn, now = true) {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      await fn();
    } catch (error) {
      if (!lostSession(error)) console.error(error);
    } finally {
      running = false;
    }
  };
  timers.push(setInterval(run, ms));
  if (now) run();
}

function show(next) {
  for (const id of timers) clearInterval(id);
  timers = [];
  if (screen && screen.leave) screen.leave();
  screen = next;
  lastActivity = Date.now();
  announce(next.note);
  paint();
  if (next.enter) next.enter();
}

function paint() {
  paintHeader();
  const view = screen.render();
  view.dataset.screen = screen.name;
  main.replaceChildren(view);
  main.dataset.screen = screen.name;
}

// Runs one user action at a time (a double tap does not send twice).
async function act(fn) {
  if (app.busy) return;
  app.busy = true;
  document.body.classList.add("busy");
  try {
    await fn();
  } catch (error) {
    if (!lostSession(error)) setNote(errorNote(error));
  } finally {
    app.busy = false;
    document.body.classList.remove("busy");
  }
}

function page(name, title, body, { footer = null, wide = false } = {}) {
  return h("section", { class: `page ${name}${wide ? " wide" : ""}`, testid: `screen-${name}` },
    title ? h("h1", { testid: "title" }, title) : null,
    body,
    footer ? h("div", { class: "footer" }, footer) : null);
}

// --- header ----------------------------------------------------------------------------

function paintHeader() {
  const office = document.getElementById("office");
  const s = app.state;
  office.textContent = s ? s.office_name || s.office_code || t("app_name") : t("app_name");
  const who = document.getElementById("who");
  if (app.operator && screen && screen.signedIn !== false) {
    who.replaceChildren(
      h("span", { class: "operator", testid: "operator-name" }, app.operator.name),
      button(t("logout"), logout, { kind: "quiet", testid: "logout" }));
  } else {
    who.replaceChildren();
  }
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === lang()));
  }
  document.getElementById("lang").setAttribute("aria-label", t("lang_label"));
  document.title = `${t("app_name")} — ${office.textContent}`;
}

function switchLanguage(code) {
  setLang(code);
  announce(screen ? screen.note : null);
  if (screen) paint();
}

function logout() {
  return signOut(null);
}

async function signOut(first) {
  await act(async () => {
    try {
      await api.post("/api/logout", {});
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
    }
    api.setSession(null);
    app.operator = null;
    if (app.state) setLang(app.state.language);
    await showSignIn(first);
  });
}

// --- start -----------------------------------------------------------------------------

async function loadState() {
  const state = await api.get("/api/state");
  app.state = state;
  if (typeof state.now_s === "number") app.offsetS = state.now_s - Date.now() / 1000;
  return state;
}

async function start() {
  document.addEventListener("contextmenu", (e) => e.preventDefault());
  document.addEventListener("keydown", (e) => {
    lastActivity = lastInput = Date.now();
    if (screen && screen.key) screen.key(e);
  });
  document.addEventListener("pointerdown", () => { lastActivity = lastInput = Date.now(); }, true);
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => switchLanguage(b.dataset.lang));
  }
  setInterval(checkIdle, 5000);
  api.whenSessionLost(() => {
    app.operator = null;
    showSignIn(note("warn", "session_over"));
  });
  if (!api.takeSecret()) {
    show(noSecretScreen());
    return;
  }
  show({ name: "loading", signedIn: false, render: () => page("loading", t("loading"), null) });
  try {
    const state = await loadState();
    setLang(state.language);
  } catch (error) {
    show(fatalScreen(error));
    return;
  }
  await showSignIn();
}

function checkIdle() {
  if (app.busy || !screen) return;
  // The queue's polling keeps the server session alive: sign out here when nobody has
  // touched the screen for the session's idle time.
  if (app.operator && Date.now() - lastInput > app.idleS * 1000) {
    signOut(note("warn", "session_over"));
  } else if (screen.idle && Date.now() - lastActivity > IDLE_MS) {
    showQueue(note("info", "idle_back"));
  }
}

function noSecretScreen() {
  return {
    name: "no-secret", signedIn: false,
    render: () => h("section", { class: "page fullmsg", testid: "screen-no-secret" },
      h("h1", { testid: "title" }, t("no_secret_title")),
      h("p", { class: "lead" }, t("no_secret_body"))),
  };
}

function fatalScreen(error) {
  return {
    name: "fatal", signedIn: false, note: errorNote(error),
    render() {
      return page("fatal", t("app_name"), noteEl(this.note),
        { footer: button(t("retry"), () => location.reload(), { kind: "primary" }) });
    },
  };
}

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
      const answer = await api.post("/api/login", { operator: op.id, pin });
      api.setSession(answer.session);
      app.operator = answer.operator;
      app.idleS = answer.idle_s || SESSION_IDLE_S;
      await showQueue();
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

// --- queue -----------------------------------------------------------------------------

// The link to the district, and whether the district still confirms the feed: when its
// signed confirmation has expired, or its newest one was refused as expired, the feed is
// frozen (protocol 9.8) although answers may still arrive.
function linkBanner(state) {
  const link = state.link || {};
  const frozen = Boolean(link.frozen ?? state.frozen) && !link.revoked;
  const down = Boolean(link.error) && link.error !== link.head_refused;
  const since = link.confirmed_s
    ? t("link_frozen_since", { when: clock(link.confirmed_s, nowS(), state.utc_offset_s) })
    : t("link_frozen");
  let kind = "ok";
  let text;
  let sub = null;
  if (link.revoked) {
    kind = "bad";
    text = t("link_revoked");
  } else if (frozen && !down) {
    kind = !link.confirmed_s || nowS() - link.confirmed_s > 86400 ? "bad" : "warn";
    text = `${since}. ${t("link_offline_note")}`;
  } else if (link.last_ok_s && !down && nowS() - link.last_ok_s < LINK_FRESH_S) {
    text = t("link_ok");
  } else if (link.last_ok_s) {
    const old = nowS() - link.last_ok_s;
    kind = old > 86400 ? "bad" : "warn";
    text = `${t("link_down", { when: ago(link.last_ok_s, nowS()) })}. ${t("link_offline_note")}`;
    if (frozen) sub = since;
  } else {
    kind = "warn";
    text = `${t("link_never")}. ${t("link_offline_note")}`;
  }
  return h("div", { class: `link ${kind}`, testid: "link", "data-kind": kind,
    "data-frozen": frozen ? "1" : "0" },
  h("span", { class: "dot" }), h("span", { class: "text" }, text,
    sub ? h("span", { class: "sub" }, sub) : null));
}

// A printer's health as [severity, words[]].
function printerWords(p) {
  const bad = [];
  const warn = [];
  const add = (list, key) => { if (!list.includes(t(key))) list.push(t(key)); };
  if (p.state === "offline") add(bad, "pr_off");
  else if (p.state === "stopped") add(bad, "pr_stopped");
  else if (!p.accepting && p.state !== "unknown") add(bad, "pr_not_accepting");
  for (const raw of p.reasons || []) {
    const r = raw.replace(/-(error|warning|report)$/, "");
    if (r === "media-empty" || r === "media-needed") add(bad, "pr_no_paper");
    else if (r === "media-low") add(warn, "pr_low_paper");
    else if (r === "media-jam") add(bad, "pr_jam");
    else if (r === "door-open" || r === "cover-open") add(bad, "pr_door");
    else if (/^(toner|marker-supply|marker-ink|ink)-low/.test(r)) add(warn, "pr_ink_low");
    else if (/^(toner|marker-supply|marker-ink|ink)-empty/.test(r)) add(bad, "pr_ink_out");
    else if (r === "offline") add(bad, "pr_off");
    else if (r === "paused") add(bad, "pr_stopped");
    else if (r === "cups-unavailable") add(bad, "pr_no_service");
    else if (raw.endsWith("-error")) add(bad, "pr_problem");
  }
  for (const m of p.markers || []) {
    if (m.level === 0) add(bad, "pr_ink_out");
    else if (m.level > 0 && m.level <= INK_LOW) add(warn, "pr_ink_low");
  }
  if (p.role === "a4" && p.media && !/a4/i.test(p.media)) add(warn, "pr_not_a4");
  if (bad.length) return ["bad", [...bad, ...warn]];
  if (warn.length) return ["warn", warn];
  if (p.state === "unknown") return ["warn", [t("pr_unknown")]];
  return ["ok", [t(p.state === "processing" ? "pr_busy" : "pr_ready")]];
}

function printerChips(state, s) {
  return h("div", { class: "printers", testid: "printers" }, (state.printers || []).map((p) => {
    const [kind, words] = printerWords(p);
    const canEnable = p.state === "stopped" || (!p.accepting && p.state !== "offline"
      && p.state !== "unknown");
    return h("div", { class: `printer ${kind}`, testid: `printer-${p.role}`, "data-kind": kind },
      h("span", { class: "dot" }),
      h("span", { class: "label" },
        h("span", { class: "what" }, t(p.role === "a4" ? "printer_a4" : "printer_receipt")),
        h("span", { class: "words" }, words.join(" · "))),
      canEnable ? button(t("enable_printer"), () => enablePrinter(p.role, s),
        { kind: "small primary", testid: `enable-${p.role}` }) : null);
  }));
}

async function enablePrinter(role, s) {
  await act(async () => {
    await api.post(`/api/printers/${encodeURIComponent(role)}/enable`, {});
    if (s) {
      await loadState();
      setNote(note("ok", "printer_enabled"));
    }
  });
}

function jobTitles(job) {
  return (job.documents || []).map((d) =>
    d.copies > 1 ? `${d.title} (${t("copies", { n: d.copies })})` : d.title).join(", ");
}

function jobState(job) {
  if (job.state === "held") return t(job.release === "claim" ? "st_held_claim" : "st_held");
  return t(`st_${job.state}`);
}

// The staff actions a job's state allows come with the job (the backend reads them from
// the lifecycle table); the screen only draws them.
function allows(job, action) {
  return (job.actions || []).includes(action);
}

function jobCard(job, s) {
  const actions = [];
  if (allows(job, "release")) {
    actions.push(button(t("staff_release"), () => show(staffReasonScreen(job)),
      { kind: "secondary", testid: "staff-release" }));
  } else if (allows(job, "retry")) {
    actions.push(button(t("retry"), () => retryJobs([job]), { kind: "primary", testid: "retry" }));
  } else if (allows(job, "hand_over")) {
    actions.push(button(t("check_result"), () => show(confirmScreen([job])),
      { kind: "primary", testid: "check-result" }));
  }
  const received = job.received_s || job.updated_s;
  const meta = [t("arrived", { when: clock(received, nowS()) })];
  if (job.reprints) meta.push(t("reprints", { n: job.reprints }));
  const why = job.state === "failed" ? reasonText(job.reason) : "";
  return h("li", { class: `job ${job.state}`, testid: "job", "data-job": job.job_id,
    "data-state": job.state },
  h("div", { class: "info" },
    h("div", { class: "resident", testid: "job-resident" }, job.resident_masked || "—"),
    h("div", { class: "docs", testid: "job-docs" }, jobTitles(job)),
    h("div", { class: "meta" }, meta.join(" · "))),
  h("div", { class: `state ${job.state}`, testid: "job-state" }, jobState(job),
    why ? h("small", {}, why) : null),
  h("div", { class: "actions" }, actions));
}

async function showQueue(first = null) {
  const s = {
    name: "queue", note: first, jobs: null, stamp: "",
    enter() {
      every(JOBS_EVERY_MS, async () => {
        const answer = await api.get("/api/jobs");
        const stamp = JSON.stringify(answer.jobs);
        if (stamp !== s.stamp && screen === s) {
          s.stamp = stamp;
          s.jobs = answer.jobs;
          paint();
        }
      });
      every(STATE_EVERY_MS, async () => {
        const before = JSON.stringify(app.state);
        await loadState();
        if (screen === s && JSON.stringify(app.state) !== before) paint();
      });
    },
    render() {
      const state = app.state || {};
      const list = s.jobs === null
        ? h("p", { class: "lead" }, t("loading"))
        : s.jobs.length === 0
          ? h("p", { class: "empty", testid: "queue-empty" }, t("queue_empty"))
          : h("ul", { class: "jobs", testid: "jobs" }, s.jobs.map((j) => jobCard(j, s)));
      const tools = h("div", { class: "tools" },
        button(t("enter_code"), () => show(claimScreen()),
          { kind: "primary big", testid: "enter-code" }),
        button(t("history"), () => show(historyScreen()), { kind: "secondary", testid: "history" }),
        button(t("settings"), () => show(settingsPinScreen()),
          { kind: "secondary", testid: "settings" }));
      return page("queue", null, [
        h("div", { class: "status" }, linkBanner(state), printerChips(state, s)),
        tools,
        noteEl(s.note),
        h("h2", {}, t("queue_title")),
        h("div", { class: "scroll" }, list),
      ]);
    },
  };
  show(s);
}

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
            s.lockedUntil = Date.now() + (error.error.retry_after_s || 60) * 1000;
            s.lockNote = errorNote(error);
            s.tickLock();
          } else {
            setNote(errorNote(error));
          }
        }
      });
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

// --- the bundle: previews, then print ---------------------------------------------------

function docLabel(doc) {
  return doc.copies > 1 ? `${doc.title} — ${t("copies", { n: doc.copies })}` : doc.title;
}

function bundleScreen(answer, via) {
  const s = {
    name: "bundle", idle: true, note: null, previews: new Map(), images: new Map(),
    enter() {
      (async () => {
        for (const job of answer.jobs) {
          for (const doc of job.documents || []) {
            const key = `${job.job_id}/${doc.idx}`;
            let url = "failed";
            try {
              url = await api.previewUrl(job.job_id, doc.idx, answer.ticket);
            } catch (error) {
              if (lostSession(error)) return;
            }
            if (screen !== s) {
              if (url !== "failed") URL.revokeObjectURL(url);
              return;
            }
            s.previews.set(key, url);
            paint();
          }
        }
      })();
    },
    leave() {
      for (const url of s.previews.values()) if (url !== "failed") URL.revokeObjectURL(url);
    },
    render() {
      const names = [...new Set(answer.jobs.map((j) => j.resident_masked).filter(Boolean))];
      const cards = [];
      for (const job of answer.jobs) {
        for (const doc of job.documents || []) {
          const key = `${job.job_id}/${doc.idx}`;
          const url = s.previews.get(key);
          let picture;
          if (url === undefined) picture = h("div", { class: "preview wait" }, t("loading"));
          else if (url === "failed") {
            picture = h("div", { class: "preview wait" }, t("preview_failed"));
          } else {
            // the same <img> across repaints: no flicker, no second decode
            picture = s.images.get(key) || h("img", { class: "preview", src: url,
              testid: "preview", draggable: "false" });
            picture.alt = `${doc.title}: ${t("doc_pages_note")}`;
            s.images.set(key, picture);
          }
          cards.push(h("li", { class: "doc", testid: "doc" }, picture,
            h("div", { class: "doc-title", testid: "doc-title" }, docLabel(doc))));
        }
      }
      return page("bundle", t("bundle_title", { name: names.join(", ") }), [
        h("p", { class: "lead" }, t("bundle_help")),
        noteEl(s.note),
        h("ul", { class: "docs-row", testid: "docs" }, cards),
      ], { footer: [
        button(t("cancel"), () => showQueue(), { kind: "quiet", testid: "cancel" }),
        button(t("print"), () => release(answer, via),
          { kind: "primary big", testid: "print" }),
      ] });
    },
  };
  return s;
}

function ids(jobs) {
  return jobs.map((j) => j.job_id);
}

// POST /api/release with the ticket, showing progress; a refusal keeps the ticket.
function release(answer, via) {
  act(async () => {
    await printRun({
      title: "printing_title",
      jobs: answer.jobs,
      run: () => api.post("/api/release", { ticket: answer.ticket }),
      onError(error) {
        if (error.code === "ticket_expired") {
          if (via === "code") show(claimScreen(errorNote(error)));
          else showQueue(errorNote(error));
          return true;
        }
        if (PRINTER_REASONS.has(error.code)) {
          show(blockedScreen(error, () => release(answer, via)));
          return true;
        }
        return false;
      },
    });
  });
}

function retryJobs(jobs) {
  act(async () => {
    await printRun({
      title: "printing_title",
      jobs,
      run: async () => {
        const results = [];
        for (const job of jobs) {
          results.push(await api.post(`/api/jobs/${encodeURIComponent(job.job_id)}/retry`, {}));
        }
        return { jobs: results };
      },
      onError(error) {
        if (PRINTER_REASONS.has(error.code)) {
          show(blockedScreen(error, () => retryJobs(jobs)));
          return true;
        }
        return false;
      },
    });
  });
}

// --- printing --------------------------------------------------------------------------

async function fetchJobs(jobIds) {
  const views = [];
  for (const id of jobIds) {
    try {
      views.push(await api.get(`/api/jobs/${encodeURIComponent(id)}`));
    } catch (error) {
      if (!(error instanceof api.ApiError) || lostSession(error)) throw error;
    }
  }
  return views;
}

// Each document's print state; `idle` names a document not (yet) in this round.
function progressList(jobs, idle) {
  const rows = [];
  for (const job of jobs) {
    for (const doc of job.documents || []) {
      const state = doc.print || idle;
      rows.push(h("li", { class: `progress ${state}`, testid: "progress", "data-state": state },
        h("span", { class: "doc-title" }, docLabel(doc)),
        h("span", { class: "badge" }, t(`ds_${state}`))));
    }
  }
  return h("ul", { class: "progress-list", testid: "progress-list" }, rows);
}

// Runs a print (release, retry or spoil) with a progress screen; on success the confirm screen.
async function printRun({ title, jobs, run, onError, destroy = false }) {
  const s = {
    name: "printing", jobs, note: null, failed: false, reprint: destroy,
    render() {
      const footer = s.failed ? [
        button(t("back_to_queue"), () => showQueue(), { kind: "quiet", testid: "back-to-queue" }),
        button(t("retry"), () => retryJobs(s.jobs.filter((j) => allows(j, "retry"))),
          { kind: "primary big", testid: "retry" }),
      ] : null;
      return page("printing", t(s.failed ? "st_failed" : title), [
        s.failed ? null : h("div", { class: "row" },
          h("div", { class: "spinner", "aria-hidden": "true" }),
          h("p", { class: "lead" }, t("printing_help"))),
        destroy ? h("div", { class: "note destroy", testid: "destroy-note" }, t("destroy_sheets"))
          : null,
        noteEl(s.note),
        progressList(s.jobs, s.failed ? "none" : "waiting"),
      ], { footer });
    },
  };
  show(s);
  const jobIds = ids(jobs);
  let done = false;
  every(PROGRESS_EVERY_MS, async () => {
    const views = await fetchJobs(jobIds);
    if (!done && screen === s && views.length) {
      s.jobs = views;
      paint();
    }
  }, false);
  let result;
  try {
    result = await run();
  } catch (error) {
    done = true;
    if (lostSession(error)) return;
    if (error instanceof api.ApiError && onError && onError(error)) return;
    s.failed = true;
    s.note = errorNote(error);
    s.jobs = await fetchJobs(jobIds).catch(() => s.jobs);
    announce(s.note);
    if (screen === s) paint();
    return;
  }
  done = true;
  const views = await fetchJobs(jobIds);
  const states = (result.jobs || []).map((j) => j.state);
  if (states.length && states.every((st) => st === "printed")) {
    show(confirmScreen(views, destroy ? note("ok", "reprinted") : null, destroy));
    return;
  }
  s.jobs = views.length ? views : s.jobs;
  s.failed = true;
  s.note = note("error", "print_failed");
  announce(s.note);
  if (screen === s) paint();
}

function blockedScreen(error, retry) {
  const role = error.error.role || "a4";
  const s = {
    name: "blocked", idle: true, note: null,
    render() {
      const canEnable = error.code === "stopped" || error.code === "not_accepting";
      return page("blocked", t("blocked_title"), [
        h("div", { class: "note error big", testid: "block-message" }, msg(error)),
        h("p", { class: "lead" }, t("blocked_help")),
        noteEl(s.note),
      ], { footer: [
        button(t("cancel"), () => showQueue(), { kind: "quiet", testid: "cancel" }),
        canEnable ? button(t("enable_printer"), () => act(async () => {
          await api.post(`/api/printers/${encodeURIComponent(role)}/enable`, {});
          setNote(note("ok", "printer_enabled"));
        }), { kind: "secondary", testid: "enable-printer" }) : null,
        button(t("retry"), retry, { kind: "primary big", testid: "retry" }),
      ] });
    },
  };
  return s;
}

// --- confirm, spoil, hand over ----------------------------------------------------------

function confirmScreen(jobs, first = null, reprinted = false) {
  const s = {
    name: "confirm", idle: true, note: first,
    render() {
      const anyReprint = reprinted || jobs.some((j) => j.reprints > 0);
      return page("confirm", t("confirm_title"), [
        h("p", { class: "lead" }, t("confirm_help")),
        noteEl(s.note),
        anyReprint ? h("div", { class: "note destroy", testid: "destroy-note" },
          t("destroy_sheets")) : null,
        h("ul", { class: "summary", testid: "summary" }, jobs.map((job) =>
          h("li", {}, h("strong", {}, job.resident_masked || ""), " — ", jobTitles(job)))),
      ], { footer: [
        button(t("confirm_bad"), () => show(spoilScreen(jobs)), { kind: "bad big", testid: "spoil" }),
        button(t("confirm_ok"), () => handover(jobs), { kind: "good big", testid: "handover" }),
      ] });
    },
  };
  return s;
}

function handover(jobs) {
  act(async () => {
    const receipts = [];
    for (const job of jobs) {
      receipts.push(await api.post(`/api/jobs/${encodeURIComponent(job.job_id)}/handover`, {}));
    }
    show(doneScreen(receipts));
  });
}

function doneScreen(results) {
  const s = {
    name: "done", note: null,
    enter() {
      timers.push(setTimeout(() => { if (screen === s) showQueue(); }, 20000));
    },
    render() {
      const lines = results.map((r) => {
        if (r.receipt === "printed") return note("ok", "receipt_printed");
        if (r.receipt === "failed") {
          const why = r.receipt_error;
          return why && typeof why === "object" && (why.message_id || why.message_en)
            ? { kind: "warn", pair: why } : note("warn", "receipt_failed");
        }
        return note("info", "receipt_none");
      });
      const seen = new Set();
      const unique = lines.filter((n) => {
        const k = JSON.stringify(noteText(n));
        return seen.has(k) ? false : seen.add(k);
      });
      return page("done", t("done_title"), [
        h("p", { class: "lead" }, t("done_help")),
        unique.map((n) => noteEl(n, "receipt")),
      ], { footer: button(t("back_to_queue"), () => showQueue(),
        { kind: "primary big", testid: "back-to-queue" }) });
    },
  };
  return s;
}

function spoilScreen(jobs) {
  const s = {
    name: "spoil", idle: true, note: null, job: jobs.length === 1 ? jobs[0] : null,
    render() {
      const destroy = h("div", { class: "note destroy big", testid: "destroy-note" },
        t("destroy_sheets"));
      const back = button(t("cancel"), () => show(confirmScreen(jobs)),
        { kind: "quiet", testid: "cancel" });
      if (!s.job) {
        return page("spoil", t("spoil_which"), [destroy, h("div", { class: "choices" },
          jobs.map((job) => button(jobTitles(job), () => { s.job = job; paint(); },
            { kind: "choice", testid: "spoil-job" })))], { footer: back });
      }
      return page("spoil", t("spoil_title"), [
        destroy,
        h("p", { class: "lead" }, t("reprint_note")),
        noteEl(s.note),
        h("div", { class: "choices" }, SPOIL_REASONS.map((r) =>
          button(t(`sp_${r}`), () => spoil(jobs, s.job, r), { kind: "choice", testid: `spoil-${r}` }))),
      ], { footer: back });
    },
  };
  return s;
}

function spoil(jobs, job, reason) {
  act(async () => {
    await printRun({
      title: "reprinting_title",
      jobs: [job],
      destroy: true,
      run: async () => ({
        jobs: [await api.post(`/api/jobs/${encodeURIComponent(job.job_id)}/spoil`, { reason })],
      }),
      onError(error) {
        if (PRINTER_REASONS.has(error.code)) {
          show(blockedScreen(error, () => retryJobs([job])));
          return true;
        }
        return false;
      },
    });
    if (screen && screen.name === "confirm" && jobs.length > 1) {
      // keep the rest of the bundle on the confirm screen
      const views = await fetchJobs(ids(jobs));
      show(confirmScreen(views, note("ok", "reprinted"), true));
    }
  });
}

// --- staff release without a code --------------------------------------------------------

function staffReasonScreen(job) {
  return {
    name: "staff", idle: true, note: null,
    render() {
      return page("staff", t("staff_title"), [
        h("p", { class: "lead" }, t("staff_help")),
        h("div", { class: "summary-one" }, h("strong", {}, job.resident_masked || ""), " — ",
          jobTitles(job)),
        h("div", { class: "choices" }, STAFF_REASONS.map((r) =>
          button(t(`rs_${r}`), () => show(staffPinScreen(job, r)),
            { kind: "choice", testid: `reason-${r}` }))),
      ], { footer: button(t("cancel"), () => showQueue(), { kind: "quiet", testid: "cancel" }) });
    },
  };
}

function staffPinScreen(job, reason) {
  return pinScreen({
    name: "staff-pin", idle: true,
    title: () => t("pin_again_title"),
    help: () => `${t(`rs_${reason}`)} — ${t("staff_pin_help")}`,
    submitLabel: () => t("confirm_pin"),
    back: () => show(staffReasonScreen(job)),
    async submit(pin) {
      const answer = await api.post("/api/staff-claim", { job_id: job.job_id, pin, reason });
      show(bundleScreen(answer, "staff"));
    },
  });
}

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

// --- settings --------------------------------------------------------------------------

function settingsPinScreen(first = null) {
  return pinScreen({
    name: "settings-pin", note: first,
    title: () => t("settings_title"),
    help: () => t("settings_pin_help"),
    submitLabel: () => t("confirm_pin"),
    back: () => showQueue(),
    async submit(pin) {
      const answer = await api.post("/api/settings/unlock", { pin });
      const ticket = answer.settings_ticket;
      const data = await api.get("/api/settings", { "X-Cedoka-Settings": ticket });
      show(settingsScreen(ticket, data));
    },
  });
}

function settingsScreen(ticket, data) {
  const headers = { "X-Cedoka-Settings": ticket };
  const s = {
    name: "settings-main", note: null, data,
    save(body, okKey = "saved") {
      act(async () => {
        try {
          s.data = await api.post("/api/settings", body, headers);
          if (body.language) switchLanguage(body.language);
          setNote(note("ok", okKey));
        } catch (error) {
          s.expired(error);
        }
      });
    },
    expired(error) {
      if (error instanceof api.ApiError && /^settings/.test(error.code)) {
        show(settingsPinScreen(note("warn", "settings_expired")));
      } else {
        throw error;
      }
    },
    testPage(role) {
      act(async () => {
        try {
          await api.post("/api/settings/test-page", { role }, headers);
          setNote(note("ok", "test_page_done"));
        } catch (error) {
          s.expired(error);
        }
      });
    },
    render() {
      const printers = s.data.printers || {};
      const queues = s.data.queues || [];
      const current = (v) => t("settings_current", { v: v || t("settings_none") });
      const a4 = h("div", { class: "setting" },
        h("h2", {}, t("settings_a4")),
        h("p", { class: "sub", testid: "a4-current" }, current(printers.a4)),
        queues.length ? h("div", { class: "choices small" }, queues.map((q) =>
          button(q, () => s.save({ printers: { a4: `cups:${q}` } }), { kind: "choice",
            testid: `queue-${q}`, extra: { "aria-pressed": String(printers.a4 === `cups:${q}`) } })))
          : h("p", { class: "sub" }, t("settings_no_queues")),
        button(t("test_page_a4"), () => s.testPage("a4"), { kind: "secondary", testid: "test-a4" }));
      const input = h("input", { type: "text", value: printers.receipt || "", testid: "receipt-uri",
        "aria-label": t("settings_receipt"), placeholder: t("settings_receipt_hint"),
        autocomplete: "off", spellcheck: "false" });
      const receipt = h("div", { class: "setting" },
        h("h2", {}, t("settings_receipt")),
        h("p", { class: "sub", testid: "receipt-current" }, current(printers.receipt)),
        h("div", { class: "row" }, input, button(t("save"),
          () => s.save({ printers: { receipt: input.value.trim() } }),
          { kind: "primary", testid: "save-receipt" })),
        button(t("test_page_receipt"), () => s.testPage("receipt"),
          { kind: "secondary", testid: "test-receipt" }));
      const language = h("div", { class: "setting" },
        h("h2", {}, t("settings_language")),
        h("div", { class: "choices small" }, [["id", "Bahasa Indonesia"], ["en", "English"]].map(
          ([code, label]) => button(label, () => s.save({ language: code }), { kind: "choice",
            testid: `default-lang-${code}`,
            extra: { "aria-pressed": String(s.data.language === code) } }))));
      return page("settings-main", t("settings_title"), [
        noteEl(s.note),
        h("div", { class: "scroll settings-grid" }, a4, receipt, language),
      ], { footer: button(t("back_to_queue"), () => showQueue(),
        { kind: "primary", testid: "back-to-queue" }) });
    },
  };
  return s;
}

start();
