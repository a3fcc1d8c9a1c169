// The kiosk screens' entry: starts the app, watches for idleness. Each screen is its own
// module (sign-in, queue, claim, bundle, printing, confirm, staff, history, settings);
// every rule is the backend's; the screens only show and ask.

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { setLang, t } from "./i18n.js";
import { app, errorNote, loadState, note, noteEl, page, screen, show, signOut, sinceActivityMs,
  sinceInputMs, switchLanguage, touched } from "./shell.js";
import { showSignIn } from "./signin.js";
import { showQueue } from "./queue.js";

const IDLE_MS = 120000;

// --- start -----------------------------------------------------------------------------

async function start() {
  document.addEventListener("contextmenu", (e) => e.preventDefault());
  document.addEventListener("keydown", (e) => {
    touched();
    if (screen && screen.key) screen.key(e);
  });
  document.addEventListener("pointerdown", touched, true);
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => switchLanguage(b.dataset.lang));
  }
  setInterval(checkIdle, 5000);
  api.whenSessionLost(() => {
    app.operator = null;
    showSignIn(note("warn", "session_over"));
  });
  api.whenStale(() => {
    if (!screen || screen.name !== "stale") show(staleScreen());
  });
  if (!api.takeSecret()) {
    show(noSecretScreen());
    return;
  }
  show({ name: "loading", signedIn: false, render: () => page("loading", t("loading"), null) });
  await begin();
}

// The first answer of the service, then sign-in. A service that does not answer (yet:
// it may be starting) is asked again, on a tap and every few seconds, without reloading
// the page: a reload would lose the secret, which the address bar no longer holds.
async function begin() {
  try {
    const state = await loadState();
    setLang(state.language);
  } catch (error) {
    if (api.isStale(error)) show(staleScreen());
    else show(unreachableScreen(error));
    return;
  }
  app.operator = null;
  await showSignIn();
}

function checkIdle() {
  if (app.busy || !screen) return;
  // The queue's polling keeps the server session alive: sign out here when nobody has
  // touched the screen for the session's idle time.
  if (app.operator && sinceInputMs() > app.idleS * 1000) {
    signOut(note("warn", "session_over"));
  } else if (screen.idle && sinceActivityMs() > IDLE_MS) {
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

// The window's address is from an earlier start of Cedoka: only a new window helps.
function staleScreen() {
  return {
    name: "stale", signedIn: false,
    render: () => h("section", { class: "page fullmsg", testid: "screen-stale" },
      h("h1", { testid: "title" }, t("stale_title")),
      h("p", { class: "lead" }, t("stale_body"))),
  };
}

// The service does not answer at this address: say what to do, and keep asking.
function unreachableScreen(error) {
  const s = {
    name: "unreachable", signedIn: false,
    note: error instanceof api.ApiError && error.status === 0 ? null : errorNote(error, "warn"),
    enter() {
      s.timer = setInterval(retry, 5000);
    },
    leave() {
      clearInterval(s.timer);
    },
    render() {
      return h("section", { class: "page fullmsg", testid: "screen-unreachable" },
        h("h1", { testid: "title" }, t("unreachable_title")),
        h("p", { class: "lead" }, t("unreachable_body")),
        noteEl(s.note),
        button(t("retry"), retry, { kind: "primary big", testid: "retry" }));
    },
  };
  let asking = false;
  async function retry() {
    if (asking || screen !== s) return;
    asking = true;
    try {
      await begin();
    } finally {
      asking = false;
    }
  }
  return s;
}

start();
