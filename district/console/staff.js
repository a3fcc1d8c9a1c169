// An office's village staff (ADR 0034): the district's operators and those a kiosk's
// supervisor added (local, reported by the kiosk); add, reset (a one-time PIN, shown once)
// and disable need operators:write.

import { call, get } from "./api.js";
import { button, confirmBox, field, h, note, table, fill } from "./dom.js";
import { t, when } from "./i18n.js";
import { can, problemText } from "./session.js";

export async function staffView(page, office, shown = null) {
  const path = `/offices/${encodeURIComponent(office.code)}/operators`;
  const listed = await get(path);
  const message = h("div", { class: "message-slot", testid: "staff-message" },
    shown ? note("ok", shown, "staff-pin") : null);
  const say = (kind, text) => fill(message, note(kind, text));
  const write = can("operators:write");
  const act = async (method, url, body, okText) => {
    try {
      const answer = await call(method, url, body ? { json: body } : {});
      await staffView(page, office, okText(answer));
    } catch (error) {
      say("error", problemText(error));
    }
  };
  const pinText = (answer) => t("staff_pin_once", { id: answer.id, pin: answer.pin });
  const rows = listed.operators.map((o) => {
    const central = o.origin === "central";
    const actions = write && central && o.state === "active" ? [
      button(t("staff_reset"), () => act("POST", `${path}/${encodeURIComponent(o.id)}/reset`, null,
        pinText), { kind: "quiet", testid: `staff-reset-${o.id}` }),
      button(t("staff_disable"), async () => {
        if (!(await confirmBox(t("staff_disable_confirm", { id: o.id }), t("staff_disable"),
          t("no_back")))) return;
        await act("POST", `${path}/${encodeURIComponent(o.id)}/disable`, null,
          () => t("staff_disabled_ok", { id: o.id }));
      }, { kind: "bad", testid: `staff-disable-${o.id}` }),
    ] : [];
    return h("tr", { testid: `staff-${o.id}` },
      h("td", {}, o.id), h("td", {}, o.name || "—"), h("td", {}, t(`staff_role_${o.role}`)),
      h("td", { testid: `staff-state-${o.id}` }, t(`staff_state_${o.state}`)),
      h("td", {}, central ? t("staff_central") : t("staff_local", { device: o.device_id || "—" })),
      h("td", {}, o.pin_pending ? t("staff_pin_pending", { when: when(o.pin_expires_s) }) : "—"),
      h("td", {}, actions));
  });
  let addForm = null;
  if (write) {
    const id = h("input", { testid: "staff-new-id", maxlength: 32, autocomplete: "off" });
    const name = h("input", { testid: "staff-new-name", maxlength: 40, autocomplete: "off" });
    const role = h("select", { testid: "staff-new-role" },
      h("option", { value: "staff" }, t("staff_role_staff")),
      h("option", { value: "supervisor" }, t("staff_role_supervisor")));
    addForm = h("form", { class: "inline", testid: "staff-add" }, field(t("staff_id"), id),
      field(t("staff_name"), name), field(t("staff_role"), role),
      h("button", { type: "submit", class: "primary", testid: "staff-add-submit" }, t("staff_add")));
    addForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      await act("POST", path, { id: id.value.trim(), name: name.value.trim(), role: role.value },
        pinText);
    });
  }
  const kiosks = (listed.kiosks || []).map((k) => h("li", { testid: `staff-kiosk-${k.device_id}` },
    k.operators_version === null ? t("staff_kiosk_unknown", { device: k.device_id })
      : t("staff_kiosk_holds", { device: k.device_id, v: k.operators_version,
        latest: listed.version })));
  const { officesView } = await import("./offices.js");
  fill(page, h("h1", {}, t("staff_title", { office: `${office.name} (${office.code})` })),
    h("p", { class: "lead" }, t("staff_lead")), message,
    table([t("staff_id"), t("staff_name"), t("staff_role"), t("staff_state"), t("staff_origin"),
      t("staff_pin"), ""], rows, "staff-table"),
    addForm,
    kiosks.length ? h("ul", { class: "sub", testid: "staff-kiosks" }, kiosks) : null,
    button(t("back"), () => officesView(page), { kind: "quiet", testid: "staff-back" }));
}
