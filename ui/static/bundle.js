// The bundle a code or a staff release opened: previews, then print.

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { t } from "./i18n.js";
import { PRINTER_REASONS, act, errorNote, lostSession, noteEl, page, paint, screen,
  show } from "./shell.js";
import { showQueue } from "./queue.js";
import { claimScreen } from "./claim.js";
import { blockedScreen, printRun } from "./printing.js";
import { zoomView } from "./zoom.js";

// --- the bundle: previews, then print ---------------------------------------------------

function docLabel(doc) {
  return doc.copies > 1 ? `${doc.title} — ${t("copies", { n: doc.copies })}` : doc.title;
}

function pagesText(n) {
  return n === 1 ? t("pages_one") : t("pages_n", { n });
}

function sheetsText(n) {
  return n === 1 ? t("sheets_one") : t("sheets_n", { n });
}

function bundleScreen(answer, via) {
  const s = {
    name: "bundle", idle: true, note: null, previews: new Map(), images: new Map(), zoom: null,
    openZoom(job, doc) {
      s.zoom = zoomView({ jobs: answer.jobs, ticket: answer.ticket,
        start: { job_id: job.job_id, idx: doc.idx }, onClose: () => s.closeZoom(),
        isOpen: () => screen === s && s.zoom !== null });
      paint();
    },
    closeZoom() {
      if (s.zoom) s.zoom.close();
      s.zoom = null;
      paint();
    },
    key(e) {
      if (s.zoom) s.zoom.key(e);
    },
    enter() {
      (async () => {
        for (const job of answer.jobs) {
          for (const doc of job.documents || []) {
            const key = `${job.job_id}/${doc.idx}`;
            let url = "failed";
            try {
              url = await api.previewUrl(job.job_id, doc.idx, answer.ticket);
            } catch (error) {
              if (lostSession(error)) return;
            }
            if (screen !== s) {
              if (url !== "failed") URL.revokeObjectURL(url);
              return;
            }
            s.previews.set(key, url);
            paint();
          }
        }
      })();
    },
    leave() {
      for (const url of s.previews.values()) if (url !== "failed") URL.revokeObjectURL(url);
      if (s.zoom) s.zoom.close();
      s.zoom = null;
    },
    render() {
      const names = [...new Set(answer.jobs.map((j) => j.resident_masked).filter(Boolean))];
      const cards = [];
      for (const job of answer.jobs) {
        for (const doc of job.documents || []) {
          const key = `${job.job_id}/${doc.idx}`;
          const url = s.previews.get(key);
          let picture;
          if (url === undefined) picture = h("div", { class: "preview wait" }, t("loading"));
          else if (url === "failed") {
            picture = h("div", { class: "preview wait" }, t("preview_failed"));
          } else {
            // the same <img> across repaints: no flicker, no second decode
            picture = s.images.get(key) || h("img", { class: "preview", src: url,
              testid: "preview", draggable: "false" });
            picture.alt = `${doc.title}: ${t("doc_pages_note")}`;
            s.images.set(key, picture);
          }
          const pages = typeof doc.pages === "number" ? pagesText(doc.pages) : null;
          cards.push(h("li", { class: "doc", testid: "doc" },
            h("button", { type: "button", class: "zoom-open", testid: "zoom-open",
              "aria-label": `${doc.title}: ${t("zoom_open")}`,
              onclick: () => s.openZoom(job, doc) }, picture,
            h("span", { class: "zoom-badge" }, t("zoom_badge"))),
            h("div", { class: "doc-title", testid: "doc-title" }, docLabel(doc)),
            pages ? h("div", { class: "doc-pages", testid: "doc-pages" }, pages) : null));
        }
      }
      return page("bundle", t("bundle_title", { name: names.join(", ") }), [
        h("p", { class: "lead" }, t("bundle_help")),
        noteEl(s.note),
        h("ul", { class: "docs-row", testid: "docs" }, cards),
        s.zoom ? s.zoom.render() : null,
      ], { footer: [
        button(t("cancel"), () => showQueue(), { kind: "quiet", testid: "cancel" }),
        button(t("print"), () => release(answer, via),
          { kind: "primary big", testid: "print" }),
      ] });
    },
  };
  return s;
}

function ids(jobs) {
  return jobs.map((j) => j.job_id);
}

// POST /api/release with the ticket, showing progress; a refusal keeps the ticket.
function release(answer, via) {
  act(async () => {
    await printRun({
      title: "printing_title",
      jobs: answer.jobs,
      run: () => api.post("/api/release", { ticket: answer.ticket }),
      onError(error) {
        if (error.code === "ticket_expired") {
          if (via === "code") show(claimScreen(errorNote(error)));
          else showQueue(errorNote(error));
          return true;
        }
        if (PRINTER_REASONS.has(error.code)) {
          show(blockedScreen(error, () => release(answer, via)));
          return true;
        }
        return false;
      },
    });
  });
}

function retryJobs(jobs) {
  act(async () => {
    await printRun({
      title: "printing_title",
      jobs,
      run: async () => {
        const results = [];
        for (const job of jobs) {
          results.push(await api.post(`/api/jobs/${encodeURIComponent(job.job_id)}/retry`, {}));
        }
        return { jobs: results };
      },
      onError(error) {
        if (PRINTER_REASONS.has(error.code)) {
          show(blockedScreen(error, () => retryJobs(jobs)));
          return true;
        }
        return false;
      },
    });
  });
}

export { bundleScreen, docLabel, ids, retryJobs, sheetsText };
