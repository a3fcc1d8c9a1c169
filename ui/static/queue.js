// The queue: the link and printers at a glance, and the jobs with their actions.

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { ago, clock, msg, reasonText, t } from "./i18n.js";
import { act, app, every, loadState, note, noteEl, nowS, page, paint, screen, setNote,
  show } from "./shell.js";
import { claimScreen } from "./claim.js";
import { retryJobs } from "./bundle.js";
import { confirmScreen } from "./confirm.js";
import { staffReasonScreen } from "./staff.js";
import { historyScreen } from "./history.js";
import { settingsPinScreen } from "./settings.js";

const INK_LOW = 10;
const LINK_FRESH_S = 180;
const STATE_EVERY_MS = 6000;
const JOBS_EVERY_MS = 3000;
const EXPIRY_SOON_S = 86400;
const TO_PRINT = new Set(["held", "released", "failed"]);

// --- queue -----------------------------------------------------------------------------

// The link to the district, and whether the district still confirms the feed: when its
// signed confirmation has expired, or its newest one was refused as expired, the feed is
// frozen (protocol 9.8) although answers may still arrive.
function linkBanner(state) {
  const link = state.link || {};
  const frozen = Boolean(link.frozen ?? state.frozen) && !link.revoked;
  const down = Boolean(link.error) && link.error !== link.head_refused;
  const since = link.confirmed_s
    ? t("link_frozen_since", { when: clock(link.confirmed_s, nowS(), state.utc_offset_s) })
    : t("link_frozen");
  let kind = "ok";
  let text;
  let sub = null;
  if (link.revoked) {
    kind = "bad";
    text = t("link_revoked");
  } else if (frozen && !down) {
    kind = !link.confirmed_s || nowS() - link.confirmed_s > 86400 ? "bad" : "warn";
    text = `${since}.`;
    sub = t("link_offline_note");
  } else if (link.last_ok_s && !down && nowS() - link.last_ok_s < LINK_FRESH_S) {
    text = t("link_ok");
  } else if (link.last_ok_s) {
    const old = nowS() - link.last_ok_s;
    kind = old > 86400 ? "bad" : "warn";
    text = `${t("link_down", { when: ago(link.last_ok_s, nowS()) })}.`;
    sub = frozen ? `${since}. ${t("link_offline_note")}` : t("link_offline_note");
  } else {
    kind = "warn";
    text = `${t("link_never")}.`;
    sub = t("link_offline_note");
  }
  return h("div", { class: `link ${kind}`, testid: "link", "data-kind": kind,
    "data-frozen": frozen ? "1" : "0" },
  h("span", { class: "dot" }), h("span", { class: "text" }, text,
    sub ? h("span", { class: "sub" }, sub) : null));
}

// A printer's health as [severity, words[]].
function printerWords(p) {
  const bad = [];
  const warn = [];
  const add = (list, key) => { if (!list.includes(t(key))) list.push(t(key)); };
  if (p.state === "offline") add(bad, "pr_off");
  else if (p.state === "stopped") add(bad, "pr_stopped");
  else if (!p.accepting && p.state !== "unknown") add(bad, "pr_not_accepting");
  for (const raw of p.reasons || []) {
    const r = raw.replace(/-(error|warning|report)$/, "");
    if (r === "media-empty" || r === "media-needed") add(bad, "pr_no_paper");
    else if (r === "media-low") add(warn, "pr_low_paper");
    else if (r === "media-jam") add(bad, "pr_jam");
    else if (r === "door-open" || r === "cover-open") add(bad, "pr_door");
    else if (/^(toner|marker-supply|marker-ink|ink)-low/.test(r)) add(warn, "pr_ink_low");
    else if (/^(toner|marker-supply|marker-ink|ink)-empty/.test(r)) add(bad, "pr_ink_out");
    else if (r === "offline") add(bad, "pr_off");
    else if (r === "paused") add(bad, "pr_stopped");
    else if (r === "cups-unavailable") add(bad, "pr_no_service");
    else if (r === "cups-not-installed") add(bad, "pr_not_installed");
    else if (r === "escpos-not-installed") add(bad, "pr_receipt_not_installed");
    else if (raw.endsWith("-error")) add(bad, "pr_problem");
  }
  for (const m of p.markers || []) {
    if (m.level === 0) add(bad, "pr_ink_out");
    else if (m.level > 0 && m.level <= INK_LOW) add(warn, "pr_ink_low");
  }
  if (p.role === "a4" && p.media && !/a4/i.test(p.media)) add(warn, "pr_not_a4");
  if (bad.length) return ["bad", [...bad, ...warn]];
  if (warn.length) return ["warn", warn];
  if (p.state === "unknown") return ["warn", [t("pr_unknown")]];
  return ["ok", [t(p.state === "processing" ? "pr_busy" : "pr_ready")]];
}

function printerChips(state, s) {
  return h("div", { class: "printers", testid: "printers" }, (state.printers || []).map((p) => {
    const [kind, words] = printerWords(p);
    const canEnable = p.state === "stopped" || (!p.accepting && p.state !== "offline"
      && p.state !== "unknown");
    return h("div", { class: `printer ${kind}`, testid: `printer-${p.role}`, "data-kind": kind },
      h("span", { class: "dot" }),
      h("span", { class: "label" },
        h("span", { class: "what" }, t(p.role === "a4" ? "printer_a4" : "printer_receipt")),
        h("span", { class: "words" }, words.join(" · "))),
      canEnable ? button(t("enable_printer"), () => enablePrinter(p.role, s),
        { kind: "small primary", testid: `enable-${p.role}` }) : null);
  }));
}

// Staff destroyed the sheets of a printed job the district cancelled.
async function discardSheets(job, s) {
  await act(async () => {
    await api.post(`/api/jobs/${encodeURIComponent(job.job_id)}/discard`, {});
    if (s) setNote(note("ok", "sheets_discarded"));
  });
}

async function enablePrinter(role, s) {
  await act(async () => {
    await api.post(`/api/printers/${encodeURIComponent(role)}/enable`, {});
    if (s) {
      await loadState();
      setNote(note("ok", "printer_enabled"));
    }
  });
}

// A printer reason in the printer chip's words (the full message says "then Try again",
// which a stuck job does not need: it goes on by itself).
const STUCK_WORDS = { stopped: "pr_stopped", offline: "pr_off", not_accepting: "pr_not_accepting",
  media_empty: "pr_no_paper", media_not_a4: "pr_not_a4", cups_unavailable: "pr_no_service" };

// Why a printing or released job does not come out (the backend's `held_up`: the printer's
// message, or "waits behind another job"); under a stuck printing job, the ways out.
function heldUpNote(job, onEnable) {
  const held = job.held_up;
  if (!held) return null;
  const stuck = job.state === "printing";
  const canEnable = held.code === "stopped" || held.code === "not_accepting";
  return h("div", { class: `note ${stuck ? "error" : "warn"} held-up`, testid: "held-up",
    "data-code": held.code },
  h("p", { testid: "held-up-message" }, stuck
    ? `${t("stuck_title")}: ${STUCK_WORDS[held.code] ? `${t(STUCK_WORDS[held.code])}.` : msg(held)}`
    : held.behind ? t(held.code === "busy" ? "behind_busy" : "behind_stuck") : msg(held)),
  stuck ? h("ol", { class: "ways-out", testid: "ways-out" },
    h("li", {}, t("way_enable", { enable: t("enable_printer") })),
    h("li", {}, t("way_cancel", { retry: t("retry") })),
    h("li", {}, t("way_spoil", { check: t("check_result"), bad: t("confirm_bad") }))) : null,
  stuck && canEnable ? button(t("enable_printer"), onEnable,
    { kind: "small primary", testid: "held-up-enable" }) : null);
}

function jobTitles(job) {
  return (job.documents || []).map((d) =>
    d.copies > 1 ? `${d.title} (${t("copies", { n: d.copies })})` : d.title).join(", ");
}

function jobState(job) {
  if (job.district_cancelled) return t("st_cancelled");
  if (job.state === "held") return t(job.release === "claim" ? "st_held_claim" : "st_held");
  return t(`st_${job.state}`);
}

// The staff actions a job's state allows come with the job (the backend reads them from
// the lifecycle table); the screen only draws them.
function allows(job, action) {
  return (job.actions || []).includes(action);
}

function jobCard(job, s) {
  const actions = [];
  if (allows(job, "release")) {
    actions.push(button(t("staff_release"), () => show(staffReasonScreen(job)),
      { kind: "secondary", testid: "staff-release" }));
  } else if (allows(job, "retry")) {
    actions.push(button(t("retry"), () => retryJobs([job]), { kind: "primary", testid: "retry" }));
  } else if (allows(job, "hand_over")) {
    actions.push(button(t("check_result"), () => show(confirmScreen([job])),
      { kind: "primary", testid: "check-result" }));
  } else if (allows(job, "discard")) {
    actions.push(button(t("sheets_destroyed"), () => discardSheets(job, s),
      { kind: "primary", testid: "discard" }));
  }
  const received = job.received_s || job.updated_s;
  const meta = [t("arrived", { when: clock(received, nowS()) })];
  if (job.reprints) meta.push(t("reprints", { n: job.reprints }));
  // paper was out when the district cancelled it: never handed over
  const paperOut = job.district_cancelled && job.state !== "cancelled";
  // Not printed after its signed expiry: said on every job still to print, marked when
  // under a day away.
  const expiry = typeof job.expires_s === "number" && TO_PRINT.has(job.state) && !paperOut
    ? h("span", { class: `expires${job.expires_s - nowS() < EXPIRY_SOON_S ? " soon" : ""}`,
      testid: "job-expires" }, t("expires", { when: clock(job.expires_s, nowS()) }))
    : null;
  const why = paperOut ? t("cancelled_paper_help")
    : job.state === "failed" ? reasonText(job.reason) : "";
  const look = job.district_cancelled ? "cancelled" : job.state;
  return h("li", { class: `job ${look}`, testid: "job", "data-job": job.job_id,
    "data-state": job.state },
  h("div", { class: "info" },
    h("div", { class: "resident", testid: "job-resident" }, job.resident_masked || "—"),
    h("div", { class: "docs", testid: "job-docs" }, jobTitles(job)),
    h("div", { class: "meta" }, meta.join(" · "), expiry ? " · " : null, expiry)),
  h("div", { class: `state ${look}`, testid: "job-state" }, jobState(job),
    why ? h("small", {}, why) : null),
  h("div", { class: "actions" }, actions),
  heldUpNote(job, () => enablePrinter("a4", s)));
}

async function showQueue(first = null) {
  const s = {
    name: "queue", note: first, jobs: null, stamp: "",
    enter() {
      every(JOBS_EVERY_MS, async () => {
        const answer = await api.get("/api/jobs");
        const stamp = JSON.stringify(answer.jobs);
        if (stamp !== s.stamp && screen === s) {
          s.stamp = stamp;
          s.jobs = answer.jobs;
          paint();
        }
      });
      every(STATE_EVERY_MS, async () => {
        const before = JSON.stringify(app.state);
        await loadState();
        if (screen === s && JSON.stringify(app.state) !== before) paint();
      });
    },
    render() {
      const state = app.state || {};
      const list = s.jobs === null
        ? h("p", { class: "lead" }, t("loading"))
        : s.jobs.length === 0
          ? h("p", { class: "empty", testid: "queue-empty" }, t("queue_empty"))
          : h("ul", { class: "jobs", testid: "jobs" }, s.jobs.map((j) => jobCard(j, s)));
      const tools = h("div", { class: "tools" },
        button(t("enter_code"), () => show(claimScreen()),
          { kind: "primary big", testid: "enter-code" }),
        button(t("history"), () => show(historyScreen()), { kind: "secondary", testid: "history" }),
        button(t("settings"), () => show(settingsPinScreen()),
          { kind: "secondary", testid: "settings" }));
      const count = s.jobs === null ? null
        : h("span", { class: "count", testid: "queue-count", "data-count": s.jobs.length },
          t("queue_count", { n: s.jobs.length }));
      return page("queue", null, [
        h("div", { class: "status" }, linkBanner(state), printerChips(state, s)),
        tools,
        noteEl(s.note),
        h("h2", {}, t("queue_title"), count),
        h("div", { class: "scroll" }, list),
      ]);
    },
  };
  show(s);
}

export { allows, heldUpNote, jobTitles, showQueue };
