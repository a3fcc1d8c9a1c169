// After printing: confirm the paper, spoil (reprint), hand over.

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { t } from "./i18n.js";
import { PRINTER_REASONS, act, errorNote, note, noteEl, noteText, page, paint, screen,
  show, timers } from "./shell.js";
import { showQueue } from "./queue.js";
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
  return h("div", { class: "note info", testid: "sheets-total" },
    n === 1 ? t("sheets_total_one") : t("sheets_total", { n }));
}

function handover(jobs) {
  act(async () => {
    const receipts = [];
    for (const job of jobs) {
      try {
        receipts.push(await api.post(`/api/jobs/${encodeURIComponent(job.job_id)}/handover`, {}));
      } catch (error) {
        // The district cancelled it meanwhile: the queue says what to do with the sheets.
        if (!(error instanceof api.ApiError) || error.code !== "job_cancelled") throw error;
        showQueue(errorNote(error));
        return;
      }
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

// Bad sheets: what happened, then which documents to print again (only those are). With
// several documents none is ticked beforehand: staff look at the paper and tick what is
// bad (ticking all would bring back the whole-bundle reprint); a lone document is ticked.
function spoilScreen(jobs) {
  const docs = jobs.flatMap((job) => (job.documents || []).map((doc) =>
    ({ job, doc, key: `${job.job_id}/${doc.idx}` })));
  const s = {
    name: "spoil", idle: true, note: null, reason: null,
    picked: new Set(docs.length === 1 ? [docs[0].key] : []),
    toggle(key) {
      if (s.picked.has(key)) s.picked.delete(key);
      else s.picked.add(key);
      paint();
    },
    render() {
      const back = button(t("cancel"), () => show(confirmScreen(jobs)),
        { kind: "quiet", testid: "cancel" });
      if (!s.reason) {
        return page("spoil", t("spoil_title"), [
          h("div", { class: "note destroy big", testid: "destroy-note" }, t("destroy_sheets")),
          h("div", { class: "choices" }, SPOIL_REASONS.map((r) =>
            button(t(`sp_${r}`), () => { s.reason = r; paint(); },
              { kind: "choice", testid: `spoil-${r}` }))),
        ], { footer: back });
      }
      const names = new Set(jobs.map((j) => j.resident_masked)).size > 1;
      const picks = docs.map(({ job, doc, key }) => {
        const on = s.picked.has(key);
        return h("button", { type: "button", class: `pick${on ? " on" : ""}`, role: "checkbox",
          "aria-checked": String(on), testid: "spoil-doc", "data-job": job.job_id,
          "data-idx": String(doc.idx), onclick: () => s.toggle(key) },
        h("span", { class: "tick", "aria-hidden": "true" }, on ? "✓" : ""),
        h("span", { class: "pick-title" }, docLabel(doc),
          names ? h("small", {}, job.resident_masked || "") : null),
        typeof doc.sheets === "number" ? h("span", { class: "badge" }, sheetsText(doc.sheets))
          : null);
      });
      const n = s.picked.size;
      const jammed = s.reason === "jammed";
      return page("spoil", t("spoil_which"), [
        h("div", { class: `note warn${jammed ? " big" : ""}`, testid: "clear-jam" },
          t(jammed ? "clear_jam" : "check_printer")),
        h("p", { class: "lead" }, t("spoil_pick_help")),
        noteEl(s.note),
        h("div", { class: "picks", testid: "spoil-docs" }, picks),
      ], { footer: [
        button(t("back"), () => { s.reason = null; paint(); },
          { kind: "quiet", testid: "spoil-back" }),
        button(n === 0 ? t("reprint_pick") : n === 1 ? t("reprint_one") : t("reprint_n", { n }),
          () => spoil(jobs, docs.filter((d) => s.picked.has(d.key)), s.reason),
          { kind: "primary big", testid: "reprint", disabled: n === 0 }),
      ] });
    },
  };
  return s;
}

// POST /api/jobs/{id}/spoil for each job with ticked documents, with their indexes.
function spoil(jobs, picked, reason) {
  const chosen = jobs.filter((job) => picked.some((p) => p.job.job_id === job.job_id));
  act(async () => {
    await printRun({
      title: "reprinting_title",
      jobs: chosen,
      destroy: true,
      run: async () => {
        const results = [];
        for (const job of chosen) {
          const docs = picked.filter((p) => p.job.job_id === job.job_id).map((p) => p.doc.idx);
          results.push(await api.post(`/api/jobs/${encodeURIComponent(job.job_id)}/spoil`,
            { reason, docs }));
        }
        return { jobs: results };
      },
      onError(error) {
        if (PRINTER_REASONS.has(error.code)) {
          show(blockedScreen(error, () => retryJobs(chosen)));
          return true;
        }
        if (error.code === "reprint_limit") {  // nothing changed: the paper is as it was
          show(confirmScreen(jobs, errorNote(error)));
          return true;
        }
        return false;
      },
    });
    if (screen && screen.name === "confirm" && chosen.length < jobs.length) {
      // keep the rest of the bundle on the confirm screen
      const views = await fetchJobs(ids(jobs));
      show(confirmScreen(views, note("ok", "reprinted"), true));
    }
  });
}

export { confirmScreen };
