// The screens' shared plumbing: the app's state, the current screen and its timers,
// notes, one action at a time, the page frame and the header.

import * as api from "./api.js";
import { button, h, noteBox } from "./dom.js";
import { lang, msg, setLang, setOfficeOffset, t } from "./i18n.js";
import { showSignIn } from "./signin.js";

const SESSION_IDLE_S = 900;
const PRINTER_REASONS = new Set(["offline", "stopped", "not_accepting", "media_empty",
  "media_not_a4", "no_queue", "no_printer", "cups_unavailable", "cups_missing",
  "escpos_missing"]);

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

// The session ended (the API already sent the screen back to sign-in), or the window's
// secret is from an earlier start of Cedoka (the API already showed what to do).
function lostSession(error) {
  return api.isStale(error) || (error instanceof api.ApiError && error.status === 401
    && /^(session|operator_removed$)/.test(error.code));
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

async function loadState() {
  const state = await api.get("/api/state");
  app.state = state;
  if (typeof state.now_s === "number") app.offsetS = state.now_s - Date.now() / 1000;
  setOfficeOffset(state.utc_offset_s);
  return state;
}

// Someone touched the screen or pressed a key.
function touched() {
  lastActivity = lastInput = Date.now();
}

function sinceInputMs() {
  return Date.now() - lastInput;
}

function sinceActivityMs() {
  return Date.now() - lastActivity;
}

export { PRINTER_REASONS, SESSION_IDLE_S, act, announce, app, errorNote, every, loadState,
  lostSession, note, noteEl, noteText, nowS, page, paint, screen, setNote, show, signOut,
  sinceActivityMs, sinceInputMs, switchLanguage, timers, touched };
