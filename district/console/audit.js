// The district's admin audit log (hash-chained, append-only), oldest first, in pages.

import { get } from "./api.js";
import { button, field, fill, h, note, table } from "./dom.js";
import { t, when } from "./i18n.js";
import { problemText } from "./session.js";

export async function auditView(page) {
  const body = h("tbody", {});
  const more = button(t("more"), () => load(), { kind: "quiet", testid: "audit-more" });
  let after = 0;

  async function load() {
    const answer = await get(`/audit?after_seq=${after}&limit=200`);
    for (const r of answer.records) {
      body.append(h("tr", { testid: `audit-${r.seq}` },
        h("td", {}, String(r.seq)), h("td", {}, when(r.at_s)), h("td", {}, r.actor),
        h("td", {}, r.action), h("td", {}, r.outcome),
        h("td", {}, r.targets.map((x) => x.join(" ")).join(", ")), h("td", {}, r.remote || "")));
      after = r.seq;
    }
    more.hidden = answer.records.length < 200;
  }

  const grid = table(["#", t("when"), t("actor"), t("action"), t("outcome"), t("targets"), t("address")], [], "audit-table");
  grid.querySelector("tbody").replaceWith(body);
  fill(page, h("h1", {}, t("audit_title")), grid, more, await kioskAudit());
  await load();
}

// A kiosk's own audit trail, its hash chain checked by the server.
async function kioskAudit() {
  const devices = (await get("/devices")).devices;
  const pick = h("select", { testid: "kiosk-audit-device" }, devices.map((d) =>
    h("option", { value: d.device_id }, `${d.office_code} · ${d.device_id}`)));
  const out = h("div", { testid: "kiosk-audit" });
  const show = button(t("show"), async () => {
    let answer;
    try {
      answer = await get(`/devices/${encodeURIComponent(pick.value)}/audit`);
    } catch (error) {
      fill(out, note("error", problemText(error)));
      return;
    }
    fill(out,
      answer.problems.length
        ? h("div", { class: "note error", testid: "chain-bad" }, t("chain_bad"),
          h("ul", {}, answer.problems.map((p) => h("li", {}, p))))
        : note("ok", t("chain_ok"), "chain-ok"),
      table(["#", t("when"), t("operator"), t("action"), t("outcome"), t("job_id")],
        answer.records.map((r) => h("tr", { testid: `kiosk-audit-${r.seq}` },
          h("td", {}, String(r.seq)), h("td", {}, when(r.at_s)), h("td", {}, r.operator || ""),
          h("td", {}, r.action), h("td", {}, r.outcome), h("td", {}, r.job_id || ""))),
        "kiosk-audit-table"));
  }, { kind: "primary", testid: "kiosk-audit-show" });
  return h("section", {}, h("h2", {}, t("kiosk_audit")),
    devices.length ? h("div", { class: "inline" }, field(t("device"), pick), show) : h("p", { class: "muted" }, t("no_data")),
    out);
}
