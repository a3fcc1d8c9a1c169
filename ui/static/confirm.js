// After printing: confirm the paper, spoil (reprint), hand over.

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { t } from "./i18n.js";
import { PRINTER_REASONS, act, note, noteEl, noteText, page, paint, screen, show,
  timers } from "./shell.js";
import { jobTitles, showQueue } from "./queue.js";
import { docLabel, ids, retryJobs, sheetsText } from "./bundle.js";
import { blockedScreen, fetchJobs, printRun } from "./printing.js";

const SPOIL_REASONS = ["blank", "jammed", "spoiled", "cut_off"];

// --- confirm, spoil, hand over ----------------------------------------------------------

function confirmScreen(jobs, first = null, reprinted = false) {
  const s = {
    name: "confirm", idle: true, note: first,
    render() {
      const anyReprint = reprinted || jobs.some((j) => j.reprints > 0);
      return page("confirm", t("confirm_title"), [
        h("p", { class: "lead" }, t("confirm_help")),
        noteEl(s.note),
        anyReprint ? h("div", { class: "note destroy", testid: "destroy-note" },
          t("destroy_sheets")) : null,
        sheetsNote(jobs),
        h("ul", { class: "summary", testid: "summary" }, jobs.map((job) =>
          h("li", {}, h("strong", {}, job.resident_masked || ""),
            h("ul", { class: "sheets" }, (job.documents || []).map((doc) =>
              h("li", { testid: "sheets-doc", "data-print": doc.print || "" },
                h("span", {}, docLabel(doc)),
                h("span", { class: "badge" }, doc.print === "kept" ? t("ds_kept")
                  : typeof doc.sheets === "number" ? sheetsText(doc.sheets) : "—"))))))),
      ], { footer: [
        button(t("confirm_bad"), () => show(spoilScreen(jobs)), { kind: "bad big", testid: "spoil" }),
        button(t("confirm_ok"), () => handover(jobs), { kind: "good big", testid: "handover" }),
      ] });
    },
  };
  return s;
}

// How many sheets should have come out of this print (documents kept from an earlier
// round do not count); nothing when a count is unknown.
function sheetsNote(jobs) {
  const docs = jobs.flatMap((j) => j.documents || []).filter((d) => d.print !== "kept");
  if (!docs.length || !docs.every((d) => typeof d.sheets === "number")) return null;
  const n = docs.reduce((sum, d) => sum + d.sheets, 0);
  return h("div", { class: "note info big", testid: "sheets-total" },
    n === 1 ? t("sheets_total_one") : t("sheets_total", { n }));
}

function handover(jobs) {
  act(async () => {
    const receipts = [];
    for (const job of jobs) {
      receipts.push(await api.post(`/api/jobs/${encodeURIComponent(job.job_id)}/handover`, {}));
    }
    show(doneScreen(receipts));
  });
}

function doneScreen(results) {
  const s = {
    name: "done", note: null,
    enter() {
      timers.push(setTimeout(() => { if (screen === s) showQueue(); }, 20000));
    },
    render() {
      const lines = results.map((r) => {
        if (r.receipt === "printed") return note("ok", "receipt_printed");
        if (r.receipt === "failed") {
          const why = r.receipt_error;
          return why && typeof why === "object" && (why.message_id || why.message_en)
            ? { kind: "warn", pair: why } : note("warn", "receipt_failed");
        }
        return note("info", "receipt_none");
      });
      const seen = new Set();
      const unique = lines.filter((n) => {
        const k = JSON.stringify(noteText(n));
        return seen.has(k) ? false : seen.add(k);
      });
      return page("done", t("done_title"), [
        h("p", { class: "lead" }, t("done_help")),
        unique.map((n) => noteEl(n, "receipt")),
      ], { footer: button(t("back_to_queue"), () => showQueue(),
        { kind: "primary big", testid: "back-to-queue" }) });
    },
  };
  return s;
}

function spoilScreen(jobs) {
  const s = {
    name: "spoil", idle: true, note: null, job: jobs.length === 1 ? jobs[0] : null,
    render() {
      const destroy = h("div", { class: "note destroy big", testid: "destroy-note" },
        t("destroy_sheets"));
      const back = button(t("cancel"), () => show(confirmScreen(jobs)),
        { kind: "quiet", testid: "cancel" });
      if (!s.job) {
        return page("spoil", t("spoil_which"), [destroy, h("div", { class: "choices" },
          jobs.map((job) => button(jobTitles(job), () => { s.job = job; paint(); },
            { kind: "choice", testid: "spoil-job" })))], { footer: back });
      }
      return page("spoil", t("spoil_title"), [
        destroy,
        h("p", { class: "lead" }, t("reprint_note")),
        noteEl(s.note),
        h("div", { class: "choices" }, SPOIL_REASONS.map((r) =>
          button(t(`sp_${r}`), () => spoil(jobs, s.job, r), { kind: "choice", testid: `spoil-${r}` }))),
      ], { footer: back });
    },
  };
  return s;
}

function spoil(jobs, job, reason) {
  act(async () => {
    await printRun({
      title: "reprinting_title",
      jobs: [job],
      destroy: true,
      run: async () => ({
        jobs: [await api.post(`/api/jobs/${encodeURIComponent(job.job_id)}/spoil`, { reason })],
      }),
      onError(error) {
        if (PRINTER_REASONS.has(error.code)) {
          show(blockedScreen(error, () => retryJobs([job])));
          return true;
        }
        return false;
      },
    });
    if (screen && screen.name === "confirm" && jobs.length > 1) {
      // keep the rest of the bundle on the confirm screen
      const views = await fetchJobs(ids(jobs));
      show(confirmScreen(views, note("ok", "reprinted"), true));
    }
  });
}

export { confirmScreen };
