// The district's admin audit log (hash-chained, append-only), oldest first, in pages.

import { get } from "./api.js";
import { button, h, table, fill } from "./dom.js";
import { t, when } from "./i18n.js";

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
  fill(page, h("h1", {}, t("audit_title")), grid, more);
  await load();
}
