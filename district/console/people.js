// For admins: users (add, disable), API tokens (create — shown once —, revoke) and
// webhooks (add — its secret shown once —, disable, deliveries).

import { call, get } from "./api.js";
import { button, confirmBox, field, h, note, table, fill } from "./dom.js";
import { t, when } from "./i18n.js";
import { problemText } from "./session.js";

function onceBox(text, secret, testid) {
  return h("div", { class: "note warn once", testid },
    h("p", {}, text), h("code", { class: "secret", testid: `${testid}-value` }, secret));
}

export async function peopleView(page, shown = null) {
  const [users, tokens, hooks] = await Promise.all([get("/users"), get("/tokens"), get("/webhooks")]);
  const message = h("div", { class: "message-slot", testid: "people-message" }, shown);
  const fail = (error) => fill(message, note("error", problemText(error)));
  const redraw = (extra) => peopleView(page, extra).catch(fail);
  const ask = async (question, yes, action) => {
    if (!(await confirmBox(question, yes, t("no_back")))) return;
    try {
      await action();
      await redraw(note("ok", t("saved")));
    } catch (error) {
      fail(error);
    }
  };

  const userRows = users.users.map((u) => h("tr", { testid: `user-${u.user_id}` },
    h("td", {}, u.user_id), h("td", {}, u.name), h("td", {}, t(`role_${u.role}`)),
    h("td", {}, u.disabled_s !== null ? t("disabled") : t("active")),
    h("td", {}, u.disabled_s === null ? button(t("disable"), () => ask(t("disable_confirm", { id: u.user_id }),
      t("yes_disable"), () => call("POST", `/users/${encodeURIComponent(u.user_id)}/disable`)),
    { kind: "bad", testid: `disable-${u.user_id}` }) : null)));
  const uid = h("input", { testid: "user-id", maxlength: 32, autocomplete: "off" });
  const uname = h("input", { testid: "user-name", maxlength: 80, autocomplete: "off" });
  const urole = h("select", { testid: "user-role" }, ["viewer", "operator", "admin"].map((r) =>
    h("option", { value: r }, t(`role_${r}`))));
  const upass = h("input", { type: "password", testid: "user-password", autocomplete: "new-password", maxlength: 128 });
  const userForm = h("form", { class: "inline", testid: "user-add" }, field(t("user_id"), uid),
    field(t("name"), uname), field(t("role"), urole), field(t("password"), upass),
    h("button", { type: "submit", class: "primary" }, t("add_user")));
  userForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await call("POST", "/users", { json: { user_id: uid.value.trim(), name: uname.value.trim(), role: urole.value, password: upass.value } });
      await redraw(note("ok", t("saved")));
    } catch (error) {
      fail(error);
    }
  });

  const tokenRows = tokens.tokens.map((k) => h("tr", { testid: `token-${k.token_id}` },
    h("td", {}, k.token_id), h("td", {}, k.user_id), h("td", {}, k.label),
    h("td", {}, when(k.expires_s)), h("td", {}, k.revoked_s !== null ? t("revoked") : t("active")),
    h("td", {}, k.revoked_s === null ? button(t("revoke_token"), () => ask(t("revoke_token_confirm", { id: k.token_id }),
      t("revoke_token"), () => call("POST", `/tokens/${encodeURIComponent(k.token_id)}/revoke`)),
    { kind: "bad", testid: `revoke-token-${k.token_id}` }) : null)));
  const tuser = h("select", { testid: "token-user" }, users.users.filter((u) => u.disabled_s === null)
    .map((u) => h("option", { value: u.user_id }, u.user_id)));
  const tlabel = h("input", { testid: "token-label", maxlength: 60, autocomplete: "off" });
  const tdays = h("input", { type: "number", min: 1, max: 366, value: 90, testid: "token-days" });
  const tokenForm = h("form", { class: "inline", testid: "token-add" }, field(t("user_id"), tuser),
    field(t("label"), tlabel), field(t("lifetime_days"), tdays),
    h("button", { type: "submit", class: "primary" }, t("create_token")));
  tokenForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const made = await call("POST", "/tokens", { json: { user_id: tuser.value, label: tlabel.value.trim(),
        scopes: [], lifetime_s: Number(tdays.value) * 86400 } });
      await redraw(onceBox(t("token_once"), made.token, "token-once"));
    } catch (error) {
      fail(error);
    }
  });

  const deliveries = h("div", { testid: "deliveries" });
  const hookRows = hooks.webhooks.map((w) => h("tr", { testid: `webhook-${w.webhook_id}` },
    h("td", {}, w.webhook_id), h("td", {}, w.url), h("td", {}, w.user_id),
    h("td", {}, w.all_jobs ? t("all_jobs") : ""), h("td", {}, w.disabled_s !== null ? t("disabled") : t("active")),
    h("td", {},
      button(t("deliveries"), async () => {
        try {
          const answer = await get(`/webhooks/${encodeURIComponent(w.webhook_id)}/deliveries`);
          fill(deliveries, h("h3", {}, `${t("deliveries")} · ${w.url}`),
            table(["#", t("action"), t("job_id"), t("when"), t("outcome")], answer.deliveries.map((m) =>
              h("tr", {}, h("td", {}, m.message_id), h("td", {}, m.type), h("td", {}, m.job_id || ""),
                h("td", {}, when(m.created_s)),
                h("td", {}, m.delivered_s ? `${m.last_status} · ${when(m.delivered_s)}` : `${m.attempts}× ${m.last_error || m.last_status || ""}`))),
            "deliveries-table"));
        } catch (error) {
          fail(error);
        }
      }, { kind: "quiet", testid: `deliveries-${w.webhook_id}` }),
      w.disabled_s === null ? button(t("disable"), () => ask(t("disable_confirm", { id: w.url }), t("yes_disable"),
        () => call("POST", `/webhooks/${encodeURIComponent(w.webhook_id)}/disable`)), { kind: "bad", testid: `disable-webhook-${w.webhook_id}` }) : null)));
  const wurl = h("input", { testid: "webhook-url", maxlength: 500, autocomplete: "off", type: "url" });
  const wuser = h("select", { testid: "webhook-user" }, users.users.filter((u) => u.disabled_s === null)
    .map((u) => h("option", { value: u.user_id }, u.user_id)));
  const wall = h("input", { type: "checkbox", testid: "webhook-all" });
  const hookForm = h("form", { class: "inline", testid: "webhook-add" }, field(t("url"), wurl),
    field(t("user_id"), wuser), field(t("all_jobs"), wall),
    h("button", { type: "submit", class: "primary" }, t("add_webhook")));
  hookForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const made = await call("POST", "/webhooks", { json: { url: wurl.value.trim(), user_id: wuser.value, all_jobs: wall.checked } });
      await redraw(onceBox(t("secret_once"), made.secret, "secret-once"));
    } catch (error) {
      fail(error);
    }
  });

  fill(page, h("h1", {}, t("people_title")), message,
    h("h2", {}, t("users")), table([t("user_id"), t("name"), t("role"), t("state"), ""], userRows, "users-table"), userForm,
    h("h2", {}, t("tokens")), table(["#", t("user_id"), t("label"), t("expires"), t("state"), ""], tokenRows, "tokens-table"), tokenForm,
    h("h2", {}, t("webhooks")), table(["#", t("url"), t("user_id"), "", t("state"), ""], hookRows, "webhooks-table"), hookForm,
    deliveries);
}
