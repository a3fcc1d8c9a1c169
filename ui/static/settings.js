// The supervisor's settings: language, printers, test pages, adding a clerk on this kiosk. A supervisor signed in enters
// their own PIN; on a staff member's session the supervisor who came to the counter taps
// their name first, and the PIN is checked (and counted) as theirs, not the staff member's.

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { msg, t } from "./i18n.js";
import { act, app, errorNote, every, note, noteEl, page, paint, setNote, show, switchLanguage }
  from "./shell.js";
import { pinScreen } from "./signin.js";
import { showQueue } from "./queue.js";

// --- opening the settings ----------------------------------------------------------------

// The first settings screen for whoever is signed in (the queue's Settings button).
function settingsPinScreen(first = null) {
  const me = app.operator;
  return me && me.role === "supervisor" ? supervisorPinScreen(me, first, false)
    : supervisorPickScreen(first);
}

function supervisorPickScreen(first = null) {
  const s = {
    name: "settings-who", note: first, supervisors: null,
    enter() {
      every(10000, async () => {
        const answer = await api.get("/api/operators");
        s.supervisors = answer.operators.filter((o) => o.role === "supervisor");
        paint();
      });
    },
    render() {
      let body;
      if (s.supervisors === null) body = h("p", { class: "lead" }, t("loading"));
      else if (s.supervisors.length === 0) {
        body = h("div", { class: "note warn big", testid: "no-supervisors" },
          t("settings_no_supervisor"));
      } else {
        body = h("div", { class: "operators", testid: "supervisors" }, s.supervisors.map((op) =>
          button([h("span", { class: "name" }, op.name), h("small", {}, t("supervisor"))],
            () => show(supervisorPinScreen(op, null, true)),
            { kind: "operator", testid: `supervisor-${op.id}` })));
      }
      return page("settings-who", t("settings_title"), [
        h("p", { class: "lead" }, t("settings_pick_supervisor")), noteEl(s.note), body,
      ], { footer: button(t("back"), () => showQueue(), { kind: "quiet", testid: "back" }) });
    },
  };
  return s;
}

// ``picked``: the supervisor chose their name on a staff member's session.
function supervisorPinScreen(supervisor, first, picked) {
  return pinScreen({
    name: "settings-pin", note: first,
    title: () => t("settings_pin_title", { name: supervisor.name }),
    help: () => t("settings_pin_help", { name: supervisor.name }),
    submitLabel: () => t("confirm_pin"),
    back: () => (picked ? show(supervisorPickScreen()) : showQueue()),
    async submit(pin) {
      const answer = await api.post("/api/settings/unlock", { pin, supervisor: supervisor.id });
      const ticket = answer.settings_ticket;
      const data = await api.get("/api/settings", { "X-Cedoka-Settings": ticket });
      show(settingsScreen(ticket, data, answer.supervisor || supervisor, picked));
    },
  });
}

function settingsScreen(ticket, data, supervisor, picked) {
  const headers = { "X-Cedoka-Settings": ticket };
  const s = {
    name: "settings-main", note: null, data, typing: false, adding: false,
    save(body, okKey = "saved") {
      act(async () => {
        try {
          s.data = await api.post("/api/settings", body, headers);
          if (body.language) switchLanguage(body.language);
          setNote(note("ok", okKey));
        } catch (error) {
          s.expired(error);
        }
      });
    },
    expired(error) {
      if (error instanceof api.ApiError && /^settings/.test(error.code)) {
        show(supervisorPinScreen(supervisor, note("warn", "settings_expired"), picked));
      } else {
        throw error;
      }
    },
    // Look for receipt printers again (one was just plugged in).
    rescan() {
      act(async () => {
        try {
          s.data = await api.get("/api/settings", headers);
          paint();
        } catch (error) {
          s.expired(error);
        }
      });
    },
    testPage(role) {
      act(async () => {
        try {
          await api.post("/api/settings/test-page", { role }, headers);
          setNote(note("ok", "test_page_done"));
        } catch (error) {
          s.expired(error);
        }
      });
    },
    // A supervisor adds a clerk on this kiosk (a local operator, reported to the district).
    addStaff(form) {
      act(async () => {
        const value = (name) => form.querySelector(`[data-field=${name}]`).value.trim();
        const body = { operator: value("id"), name: value("name"), pin: value("pin"),
          role: form.querySelector("[data-field=supervisor]").checked ? "supervisor" : "staff" };
        s.draft = { ...body, pin: "" };  // kept if refused (never the PIN)
        try {
          await api.post("/api/operators", body, headers);
          s.adding = false;
          s.draft = {};
          setNote(note("ok", "staff_added", { name: body.name }));
        } catch (error) {
          if (error instanceof api.ApiError && /^settings/.test(error.code)) s.expired(error);
          else if (error instanceof api.ApiError && error.status !== 0) setNote(errorNote(error));
          else throw error;
        }
      });
    },
    render() {
      const printers = s.data.printers || {};
      const queues = s.data.queues || [];
      const current = (v) => t("settings_current", { v: v || t("settings_none") });
      // A printer driver this PC lacks (no pycups, no python-escpos): say so, keep the rest.
      const missing = (code) => {
        const m = (s.data.missing || []).find((x) => x.code === code);
        return m ? h("div", { class: "note warn", testid: `missing-${code}` }, msg(m)) : null;
      };
      const a4 = h("div", { class: "setting" },
        h("h2", {}, t("settings_a4")),
        h("p", { class: "sub", testid: "a4-current" }, current(printers.a4)),
        missing("cups_missing") || (queues.length ? h("div", { class: "choices small" }, queues.map((q) =>
          button(q, () => s.save({ printers: { a4: `cups:${q}` } }), { kind: "choice",
            testid: `queue-${q}`, extra: { "aria-pressed": String(printers.a4 === `cups:${q}`) } })))
          : h("p", { class: "sub" }, t("settings_no_queues"))),
        button(t("test_page_a4"), () => s.testPage("a4"), { kind: "secondary", testid: "test-a4" }));
      // The receipt printers this PC sees (USB, CUPS queues), to tap; typing an address is
      // for district IT with a keyboard.
      const found = s.data.receipt_choices || [];
      const pick = (uri) => s.save({ printers: { receipt: uri } });
      const choices = found.map((p) => button([h("span", { class: "name" }, p.label),
        h("small", {}, t(p.source === "usb" ? "settings_found_usb" : "settings_found_cups"))],
      () => pick(p.uri), { kind: "choice", testid: `receipt-choice-${p.uri}`,
        extra: { "aria-pressed": String(printers.receipt === p.uri) } }));
      if (printers.receipt) {
        choices.push(button(t("settings_no_receipt"), () => pick(""),
          { kind: "choice", testid: "receipt-none" }));
      }
      const input = h("input", { type: "text", value: printers.receipt || "", testid: "receipt-uri",
        "aria-label": t("settings_receipt"), placeholder: t("settings_receipt_hint"),
        autocomplete: "off", spellcheck: "false" });
      const typed = s.typing
        ? h("div", { class: "row" }, input, button(t("save"),
          () => s.save({ printers: { receipt: input.value.trim() } }),
          { kind: "primary", testid: "save-receipt" }))
        : button(t("settings_type_address"), () => { s.typing = true; paint(); },
          { kind: "quiet", testid: "receipt-type" });
      const receipt = h("div", { class: "setting" },
        h("h2", {}, t("settings_receipt")),
        h("p", { class: "sub", testid: "receipt-current" }, current(printers.receipt)),
        missing("escpos_missing"),
        found.length ? h("p", { class: "sub" }, t("settings_found"))
          : h("p", { class: "sub", testid: "receipt-none-found" }, t("settings_none_found")),
        choices.length ? h("div", { class: "choices small", testid: "receipt-choices" }, choices)
          : null,
        h("div", { class: "row" },
          button(t("settings_rescan"), () => s.rescan(), { kind: "secondary", testid: "rescan" }),
          button(t("test_page_receipt"), () => s.testPage("receipt"),
            { kind: "secondary", testid: "test-receipt" })),
        typed);
      const language = h("div", { class: "setting" },
        h("h2", {}, t("settings_language")),
        h("div", { class: "choices small" }, [["id", "Bahasa Indonesia"], ["en", "English"]].map(
          ([code, label]) => button(label, () => s.save({ language: code }), { kind: "choice",
            testid: `default-lang-${code}`,
            extra: { "aria-pressed": String(s.data.language === code) } }))));
      const draft = s.draft || {};
      const field = (name, label, attrs = {}) => h("input", { type: "text", testid: `staff-${name}`,
        "data-field": name, "aria-label": label, placeholder: label, autocomplete: "off",
        spellcheck: "false", value: draft[name === "id" ? "operator" : name] || "", ...attrs });
      const form = s.adding ? h("div", { class: "col", testid: "staff-form" },
        field("id", t("staff_id_hint")), field("name", t("staff_name_hint")),
        field("pin", t("staff_pin_hint"), { inputmode: "numeric", maxlength: "8" }),
        h("label", { class: "sub" }, h("input", { type: "checkbox", "data-field": "supervisor",
          testid: "staff-supervisor", checked: draft.role === "supervisor" }), " ", t("supervisor")),
        button(t("save"), (e) => s.addStaff(e.target.closest("[data-testid=staff-form]")),
          { kind: "primary", testid: "staff-save" })) : null;
      const staff = h("div", { class: "setting" },
        h("h2", {}, t("settings_staff")),
        h("p", { class: "sub" }, t("settings_staff_help")),
        form || button(t("staff_add"), () => { s.adding = true; paint(); },
          { kind: "secondary", testid: "staff-add" }));
      return page("settings-main", t("settings_title"), [
        h("p", { class: "sub", testid: "settings-by" }, t("settings_by", { name: supervisor.name })),
        noteEl(s.note),
        h("div", { class: "scroll settings-grid" }, a4, receipt, language, staff),
      ], { footer: button(t("back_to_queue"), () => showQueue(),
        { kind: "primary", testid: "back-to-queue" }) });
    },
  };
  return s;
}

export { settingsPinScreen };
