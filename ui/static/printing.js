// Printing: the progress of a release, retry or spoil, and the blocked-printer screen.

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { msg, t } from "./i18n.js";
import { act, announce, errorNote, every, lostSession, note, noteEl, page, paint, screen,
  setNote, show } from "./shell.js";
import { allows, heldUpNote, showQueue } from "./queue.js";
import { docLabel, ids, retryJobs } from "./bundle.js";
import { confirmScreen } from "./confirm.js";

const PROGRESS_EVERY_MS = 500;

// --- printing --------------------------------------------------------------------------

async function fetchJobs(jobIds) {
  const views = [];
  for (const id of jobIds) {
    try {
      views.push(await api.get(`/api/jobs/${encodeURIComponent(id)}`));
    } catch (error) {
      if (!(error instanceof api.ApiError) || lostSession(error)) throw error;
    }
  }
  return views;
}

// Each document's print state; `idle` names a document not (yet) in this round.
function progressList(jobs, idle) {
  const rows = [];
  for (const job of jobs) {
    for (const doc of job.documents || []) {
      const state = doc.print || idle;
      rows.push(h("li", { class: `progress ${state}`, testid: "progress", "data-state": state },
        h("span", { class: "doc-title" }, docLabel(doc)),
        h("span", { class: "badge" }, t(`ds_${state}`))));
    }
  }
  return h("ul", { class: "progress-list", testid: "progress-list" }, rows);
}

// "Aktifkan printer" under a stuck print: the print itself is the act() in flight, so this
// tap has its own guard against a double tap.
let enabling = false;
async function enableStuck() {
  if (enabling) return;
  enabling = true;
  try {
    await api.post("/api/printers/a4/enable", {});
    setNote(note("ok", "printer_enabled"));
  } catch (error) {
    if (!lostSession(error)) setNote(errorNote(error));
  } finally {
    enabling = false;
  }
}

// Runs a print (release, retry or spoil) with a progress screen; on success the confirm screen.
async function printRun({ title, jobs, run, onError, destroy = false }) {
  const s = {
    name: "printing", jobs, note: null, failed: false, cancelled: false, reprint: destroy,
    render() {
      const retryable = s.jobs.filter((j) => allows(j, "retry"));
      const footer = s.failed ? [
        button(t("back_to_queue"), () => showQueue(), { kind: "quiet", testid: "back-to-queue" }),
        // none to retry: e.g. the district cancelled the job (nothing was printed)
        retryable.length ? button(t("retry"), () => retryJobs(retryable),
          { kind: "primary big", testid: "retry" }) : null,
      ] : null;
      const failedTitle = s.cancelled ? "st_cancelled" : "st_failed";
      return page("printing", t(s.failed ? failedTitle : title), [
        s.failed ? null : h("div", { class: "row" },
          h("div", { class: "spinner", "aria-hidden": "true" }),
          h("p", { class: "lead" }, t("printing_help"))),
        destroy ? h("div", { class: "note destroy", testid: "destroy-note" }, t("destroy_sheets"))
          : null,
        s.failed ? null : s.jobs.map((j) => heldUpNote(j, enableStuck)),
        noteEl(s.note),
        progressList(s.jobs, s.failed ? "none" : "waiting"),
      ], { footer });
    },
  };
  show(s);
  const jobIds = ids(jobs);
  let done = false;
  every(PROGRESS_EVERY_MS, async () => {
    const views = await fetchJobs(jobIds);
    if (!done && screen === s && views.length) {
      s.jobs = views;
      paint();
    }
  }, false);
  let result;
  try {
    result = await run();
  } catch (error) {
    done = true;
    if (lostSession(error)) return;
    if (error instanceof api.ApiError && onError && onError(error)) return;
    s.failed = true;
    s.cancelled = error instanceof api.ApiError && error.code === "job_cancelled";
    s.note = errorNote(error);
    s.jobs = await fetchJobs(jobIds).catch(() => s.jobs);
    announce(s.note);
    if (screen === s) paint();
    return;
  }
  done = true;
  const views = await fetchJobs(jobIds);
  const states = (result.jobs || []).map((j) => j.state);
  if (states.length && states.every((st) => st === "printed")) {
    show(confirmScreen(views, destroy ? note("ok", "reprinted") : null, destroy));
    return;
  }
  s.jobs = views.length ? views : s.jobs;
  s.failed = true;
  s.note = note("error", "print_failed");
  announce(s.note);
  if (screen === s) paint();
}

function blockedScreen(error, retry) {
  const role = error.error.role || "a4";
  const s = {
    name: "blocked", idle: true, note: null,
    render() {
      const canEnable = error.code === "stopped" || error.code === "not_accepting";
      return page("blocked", t("blocked_title"), [
        h("div", { class: "note error big", testid: "block-message" }, msg(error)),
        h("p", { class: "lead" }, t("blocked_help")),
        noteEl(s.note),
      ], { footer: [
        button(t("cancel"), () => showQueue(), { kind: "quiet", testid: "cancel" }),
        canEnable ? button(t("enable_printer"), () => act(async () => {
          await api.post(`/api/printers/${encodeURIComponent(role)}/enable`, {});
          setNote(note("ok", "printer_enabled"));
        }), { kind: "secondary", testid: "enable-printer" }) : null,
        button(t("retry"), retry, { kind: "primary big", testid: "retry" }),
      ] });
    },
  };
  return s;
}

export { blockedScreen, fetchJobs, printRun };
