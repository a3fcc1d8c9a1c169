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

function fatalScreen(error) {
  return {
    name: "fatal", signedIn: false, note: errorNote(error),
    render() {
      return page("fatal", t("app_name"), noteEl(this.note),
        { footer: button(t("retry"), () => location.reload(), { kind: "primary" }) });
    },
  };
}

start();
