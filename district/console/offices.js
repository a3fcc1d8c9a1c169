// Village offices and their kiosks with health (last seen, version, printers, paper/ink);
// add an office, make an enrolment code with a printable sheet (code + QR, drawn by the
// server: ADR 0023), ask a kiosk to rotate its sealing key (ADR 0032), revoke a kiosk, rotate
// the signing key; an office's staff (staff.js).

import { call, get } from "./api.js";
import { OFFLINE_AFTER_S, printerNeeds } from "./dashboard.js";
import { button, confirmBox, field, h, note, table, fill } from "./dom.js";
import { ago, t, when } from "./i18n.js";
import { can, problemText } from "./session.js";
import { staffView } from "./staff.js";

function health(d, nowS) {
  if (d.revoked_s !== null) return ["bad", t("revoked")];
  if (d.last_seen_s === null || nowS - d.last_seen_s > OFFLINE_AFTER_S) return ["warn", t("offline")];
  return ["ok", t("online")];
}

function printersText(d) {
  const printers = (d.heartbeat && d.heartbeat.printers) || [];
  if (!printers.length) return "—";
  return printers.map((p) => {
    const needs = printerNeeds(p);
    return `${p.role}: ${needs.length ? needs.map((x) => t(x)).join(", ") : t("ok_printer")}`;
  }).join(" · ");
}

// The kiosk's agent version, and its last self-update attempt when that did not end in
// "updated" (a release rolled back, failed, refused, or waiting for the printer).
function versionCell(d) {
  const u = d.update;
  const trouble = u && u.result !== "updated"
    ? h("span", { class: `badge ${u.result === "waiting" ? "warn" : "bad"}`, testid: `device-update-${d.device_id}` },
      `${u.version}: ${t(`upd_${u.result}`)}`)
    : null;
  return h("td", { testid: `device-version-${d.device_id}` }, d.agent || "—", trouble ? " " : null, trouble);
}

export async function officesView(page) {
  const nowS = Math.floor(Date.now() / 1000);
  const [offices, devices] = await Promise.all([get("/offices"), get("/devices")]);
  const message = h("div", { class: "message-slot", testid: "offices-message" });
  const say = (kind, text) => fill(message, note(kind, text));

  const officeRows = offices.offices.map((o) => h("tr", { testid: `office-${o.code}` },
    h("td", {}, o.code), h("td", {}, o.name),
    h("td", {}, can("offices:write")
      ? button(t("enroll"), () => enrollSheet(page, o), { kind: "primary", testid: `enroll-${o.code}` })
      : null,
    can("operators:read")
      ? button(t("staff"), () => staffView(page, o), { kind: "quiet", testid: `staff-of-${o.code}` })
      : null)));

  const deviceRows = devices.devices.map((d) => {
    const [kind, label] = health(d, nowS);
    return h("tr", { testid: `device-${d.device_id}` },
      h("td", {}, d.device_id), h("td", {}, d.office_code),
      h("td", {}, h("span", { class: `badge ${kind}`, testid: `device-health-${d.device_id}` }, label)),
      h("td", {}, ago(d.last_seen_s, nowS)), versionCell(d),
      h("td", { testid: `device-printers-${d.device_id}` }, printersText(d)),
      h("td", {}, can("keys:rotate") && d.revoked_s === null
        ? button(t("rotate_seal"), async () => {
          if (!(await confirmBox(t("rotate_seal_confirm", { id: d.device_id }), t("yes_rotate"), t("no_back")))) return;
          try {
            await call("POST", `/devices/${encodeURIComponent(d.device_id)}/rotate-seal`);
            say("ok", t("rotate_seal_ok", { id: d.device_id }));
          } catch (error) {
            say("error", problemText(error));
          }
        }, { kind: "quiet", testid: `rotate-seal-${d.device_id}` })
        : null),
      h("td", {}, can("devices:revoke") && d.revoked_s === null
        ? button(t("revoke"), async () => {
          if (!(await confirmBox(t("revoke_confirm", { id: d.device_id }), t("yes_revoke"), t("no_back")))) return;
          try {
            await call("POST", `/devices/${encodeURIComponent(d.device_id)}/revoke`);
            await officesView(page);
            page.querySelector("[data-testid=offices-message]").append(note("ok", t("revoked_ok")));
          } catch (error) {
            say("error", problemText(error));
          }
        }, { kind: "bad", testid: `revoke-${d.device_id}` })
        : null));
  });

  let addForm = null;
  if (can("offices:write")) {
    const code = h("input", { testid: "office-code", maxlength: 32, autocomplete: "off" });
    const name = h("input", { testid: "office-name", maxlength: 200, autocomplete: "off" });
    addForm = h("form", { class: "inline", testid: "office-add" }, field(t("office_code"), code),
      field(t("office_name"), name), h("button", { type: "submit", class: "primary" }, t("add_office")));
    addForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await call("POST", "/offices", { json: { code: code.value.trim(), name: name.value.trim() } });
        await officesView(page);
      } catch (error) {
        say("error", problemText(error));
      }
    });
  }
  const rotate = can("keys:rotate") ? button(t("rotate"), async () => {
    if (!(await confirmBox(t("rotate_confirm"), t("yes_rotate"), t("no_back")))) return;
    try {
      const answer = await call("POST", "/keys/rotate");
      say("ok", t("rotated_ok", { kid: answer.kid }));
    } catch (error) {
      say("error", problemText(error));
    }
  }, { kind: "quiet", testid: "rotate-key" }) : null;

  fill(page, h("h1", {}, t("offices_title")), message,
    table([t("office_code"), t("office_name"), ""], officeRows, "offices-table"), addForm,
    h("h2", {}, t("kiosks")),
    table([t("device"), t("office"), t("health"), t("last_seen"), t("version"), t("printers"), "", ""],
      deviceRows, "devices-table"),
    rotate);
}

async function enrollSheet(page, office) {
  const answer = await call("POST", `/offices/${encodeURIComponent(office.code)}/enroll-codes`, { json: {} });
  const until = Math.floor(Date.now() / 1000) + answer.valid_s;
  const qr = h("img", { class: "qr", testid: "enroll-qr", alt: `QR ${answer.enroll_code}`,
    src: `data:image/svg+xml;base64,${btoa(answer.qr_svg)}` });
  fill(page, h("article", { class: "sheet", testid: "enroll-sheet" },
    h("h1", {}, t("enroll_title")),
    h("p", { class: "office-name", testid: "enroll-office" }, `${office.name} (${office.code})`),
    h("div", { class: "code", testid: "enroll-code" }, answer.enroll_code), qr,
    h("p", { class: "lead" }, t("enroll_help")),
    h("p", {}, t("valid_until", { when: when(until) }))),
  h("div", { class: "row no-print" },
    button(t("print"), () => window.print(), { kind: "primary", testid: "enroll-print" }),
    button(t("back"), () => officesView(page), { kind: "quiet", testid: "enroll-back" })));
}
