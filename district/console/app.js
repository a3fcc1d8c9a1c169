// The district console: sign-in, the menu by the caller's scopes, and one view at a time
// (chosen by the URL's #hash). The session cookie is HttpOnly; the anti-CSRF token is
// kept in memory (api.js) and fetched again from GET /admin/v1/session after a reload.

import { ApiError, call, get, setCsrf, whenSessionLost } from "./api.js";
import { button, clear, field, h, note, fill } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { auditView } from "./audit.js";
import { dashboardView } from "./dashboard.js";
import { jobView, jobsView } from "./jobs.js";
import { officesView } from "./offices.js";
import { peopleView } from "./people.js";
import { pushView } from "./push.js";
import { releasesView } from "./releases.js";
import { can, problemText, session } from "./session.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const whoBox = document.getElementById("who");

const VIEWS = [
  { name: "dashboard", label: "nav_dashboard", scope: "jobs:read", show: dashboardView },
  { name: "push", label: "nav_push", scope: "jobs:push", show: pushView },
  { name: "jobs", label: "nav_jobs", scope: "jobs:read", show: jobsView },
  { name: "offices", label: "nav_offices", scope: "offices:read", show: officesView },
  { name: "releases", label: "nav_releases", scope: "devices:read", show: releasesView },
  { name: "audit", label: "nav_audit", scope: "audit:read", show: auditView },
  { name: "people", label: "nav_people", scope: "users:admin", show: peopleView },
];

function signInView(message) {
  nav.hidden = true;
  clear(whoBox);
  const user = h("input", { name: "user", autocomplete: "username", testid: "signin-user", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", testid: "signin-password", required: true });
  const totp = h("input", { name: "totp", inputmode: "numeric", autocomplete: "one-time-code", testid: "signin-totp", maxlength: 8 });
  const totpField = field(t("totp"), totp);
  totpField.hidden = true;
  const box = h("div", { class: "message-slot" }, message ? note(message.kind, message.text) : null);
  const submit = h("button", { type: "submit", class: "primary big", testid: "signin-submit" }, t("sign_in"));
  const form = h("form", { class: "card signin", testid: "screen-signin", novalidate: true },
    h("h1", {}, t("signin_title")), h("p", { class: "lead" }, t("signin_lead")),
    field(t("user_id"), user), field(t("password"), password), totpField, box, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    clear(box);
    try {
      const body = { user_id: user.value.trim(), password: password.value };
      if (!totpField.hidden) body.totp = totp.value.trim();
      const answer = await call("POST", "/session", { json: body, quiet401: true });
      signedIn(answer);
    } catch (error) {
      let text = problemText(error);
      if (error instanceof ApiError && error.code === "totp_required") {
        totpField.hidden = false;
        totp.focus();
        text = t("totp_needed");
      } else if (error instanceof ApiError && error.status === 401 && !totpField.hidden) text = t("wrong_totp");
      else if (error instanceof ApiError && error.status === 401) text = t("wrong_password");
      else if (error instanceof ApiError && error.status === 429) {
        text = t("locked", { n: Math.max(1, Math.ceil((error.retryAfter || 60) / 60)) });
      }
      box.append(note(error.code === "totp_required" ? "info" : "error", text));
      submit.disabled = false;
    }
  });
  fill(main, form);
  user.focus();
}

function signedIn(answer) {
  setCsrf(answer.csrf);
  session.me = { user_id: answer.user_id, role: answer.role, scopes: answer.scopes, actor: answer.actor };
  if (!location.hash || location.hash === "#signin") history.replaceState(null, "", "#dashboard");
  route();
}

function drawChrome() {
  clear(nav);
  nav.hidden = false;
  const first = location.hash.slice(1).split("/")[0] || "dashboard";
  const current = first === "job" ? "jobs" : first;
  for (const view of VIEWS) {
    if (!can(view.scope)) continue;
    nav.append(h("a", { href: `#${view.name}`, testid: `nav-${view.name}`,
      class: current === view.name ? "current" : "", "aria-current": current === view.name ? "page" : null },
    t(view.label)));
  }
  clear(whoBox).append(
    h("span", { class: "user", testid: "who-user" }, session.me.user_id || session.me.actor),
    h("span", { class: "role" }, t(`role_${session.me.role}`)),
    button(t("sign_out"), signOut, { kind: "quiet", testid: "sign-out" }));
}

async function signOut() {
  try {
    await call("DELETE", "/session");
  } catch {
    // signed out anyway: the cookie is gone or the session had ended
  }
  session.me = null;
  setCsrf(null);
  history.replaceState(null, "", "#signin");
  signInView({ kind: "ok", text: t("signed_out") });
}

async function route() {
  if (session.me === null) return;
  drawChrome();
  const [name, arg] = location.hash.slice(1).split("/");
  const view = VIEWS.find((v) => v.name === name && can(v.scope)) || VIEWS[0];
  const isJob = name === "job" && arg && can("jobs:read");
  const page = h("section", { class: "page", testid: `screen-${isJob ? "job" : view.name}` },
    h("p", {}, t("loading")));
  fill(main, page);
  try {
    if (isJob) await jobView(page, decodeURIComponent(arg));
    else await view.show(page);
    page.dataset.ready = "true"; // loaded (tests wait for it)
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    fill(page, note("error", problemText(error)));
  }
}

whenSessionLost(() => {
  session.me = null;
  signInView({ kind: "warn", text: t("session_over") });
});

function drawLang() {
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === lang()));
  }
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

for (const b of document.querySelectorAll("[data-lang]")) {
  b.addEventListener("click", () => {
    setLang(b.dataset.lang);
    sessionStorage.setItem("cedoka-console-lang", lang()); // a preference, not a secret
    drawLang();
    if (session.me === null) signInView();
    else route();
  });
}

window.addEventListener("hashchange", route);

async function start() {
  setLang(sessionStorage.getItem("cedoka-console-lang") || "id");
  drawLang();
  let live = null;
  try {
    live = await get("/session"); // null (204): no live session
  } catch {
    live = null;
  }
  if (live) signedIn(live);
  else signInView();
}

start();
