// Agent releases (ADR 0031): each release's roll-out stage (a percentage of the kiosks,
// chosen offices), how many kiosks run it and how many report a failed update to it; the
// versions the kiosks run. Promote (widen a stage) when the targets key is on the server;
// when it is kept offline, the command to run on the signing machine instead.

import { call, get } from "./api.js";
import { button, confirmBox, field, h, note, table, fill } from "./dom.js";
import { t } from "./i18n.js";
import { can, problemText } from "./session.js";

function stageText(r) {
  return r.offices.length ? `${r.percent}% + ${r.offices.join(", ")}` : `${r.percent}%`;
}

function promoteForm(page, r, say) {
  const percent = h("input", { type: "number", min: r.percent, max: 100, step: 1, value: r.percent,
    testid: `promote-percent-${r.version}`, class: "narrow" });
  const offices = h("input", { testid: `promote-offices-${r.version}`, maxlength: 400,
    autocomplete: "off", placeholder: "74.08.01.2002" });
  const form = h("form", { class: "inline", testid: `promote-${r.version}` },
    field(t("rel_percent"), percent), field(t("rel_offices"), offices),
    h("button", { type: "submit", class: "primary" }, t("rel_promote")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { offices: offices.value.split(/[\s,]+/).filter((x) => x) };
    const p = Number.parseInt(percent.value, 10);
    if (Number.isInteger(p) && p !== r.percent) body.percent = p;
    if (body.percent === undefined && !body.offices.length) {
      say("error", t("rel_nothing"));
      return;
    }
    const what = [body.percent !== undefined ? `${body.percent}%` : null, ...body.offices].filter((x) => x).join(", ");
    if (!(await confirmBox(t("rel_confirm", { v: r.version, what }), t("rel_yes"), t("no_back")))) return;
    try {
      const done = await call("POST", `/releases/${encodeURIComponent(r.version)}/promote`, { json: body });
      await releasesView(page);
      page.querySelector("[data-testid=releases-message]").append(
        note("ok", t("rel_promoted", { v: done.version, stage: stageText(done) })));
    } catch (error) {
      // the targets key was taken off the server since this screen was drawn: show it so
      if (error.code === "key_offline") await releasesView(page);
      else say("error", problemText(error));
    }
  });
  return form;
}

export async function releasesView(page) {
  const data = await get("/releases");
  const message = h("div", { class: "message-slot", testid: "releases-message" });
  const say = (kind, text) => fill(message, note(kind, text));
  const mayPromote = can("releases:promote");

  const rows = data.releases.map((r) => h("tr", { testid: `release-${r.version}` },
    h("td", {}, r.version),
    h("td", { testid: `release-stage-${r.version}` }, stageText(r)),
    h("td", { testid: `release-kiosks-${r.version}` }, String(r.kiosks)),
    h("td", { testid: `release-failed-${r.version}` }, r.failed
      ? h("span", { class: "badge bad" }, t("rel_failed_n", { n: r.failed })) : "—",
    r.waiting ? h("span", { class: "badge warn" }, t("rel_waiting_n", { n: r.waiting })) : null),
    h("td", {}, mayPromote && data.promote_online ? promoteForm(page, r, say) : null)));

  const versions = data.versions.map((v) => h("tr", { testid: `version-${v.version}` },
    h("td", {}, v.version), h("td", {}, String(v.kiosks))));

  let keyNote = null;
  if (!data.repository) keyNote = note("info", t("rel_no_repo"), "releases-no-repo");
  else if (!data.promote_online) {
    keyNote = h("div", { class: "note info", testid: "releases-offline-key", role: "status" },
      h("p", {}, t("rel_key_offline")),
      h("code", { class: "command", testid: "releases-command" }, data.promote_command));
  }

  fill(page, h("h1", {}, t("releases_title")), message, keyNote,
    data.releases.length
      ? table([t("version"), t("rel_stage"), t("rel_running"), t("rel_problems"), ""], rows, "releases-table")
      : null,
    h("h2", {}, t("rel_versions")),
    table([t("version"), t("kiosks")], versions, "versions-table"),
    data.unknown_version ? h("p", {}, t("rel_unknown", { n: data.unknown_version })) : null);
}
