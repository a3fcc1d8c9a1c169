// The zoom view over the release screen: every page of the bundle's documents, one at a
// time, as large as the screen allows and in the page's own orientation (a landscape KK is
// shown landscape). Tap the page to see it twice as large and move around in it. Pages come
// from the API, rendered in memory and sent no-store, and are shown through blob: URLs
// that are revoked when the view closes: nothing stays in the browser.

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { t } from "./i18n.js";
import { lostSession, paint } from "./shell.js";

// Every page of these jobs' documents, in order: {job, doc, number, of}.
function pagesOf(jobs) {
  const pages = [];
  for (const job of jobs) {
    for (const doc of job.documents || []) {
      const count = Math.max(1, doc.pages || 1);
      for (let number = 1; number <= count; number += 1) {
        pages.push({ job, doc, number, of: count });
      }
    }
  }
  return pages;
}

function keyOf(p) {
  return `${p.job.job_id}/${p.doc.idx}/${p.number}`;
}

// A zoom view; `isOpen()` says whether its screen still shows it (late answers are dropped).
function zoomView({ jobs, ticket, start, onClose, isOpen }) {
  const pages = pagesOf(jobs);
  const z = {
    pages, index: Math.max(0, pages.findIndex((p) => p.job.job_id === start.job_id
      && p.doc.idx === start.idx)), large: false, urls: new Map(), images: new Map(),
    go(delta) {
      const next = z.index + delta;
      if (next < 0 || next >= pages.length) return;
      z.index = next;
      z.large = false;
      z.load();
      paint();
    },
    // Fetch the page shown, then the next one (so "next" is instant).
    async load() {
      for (const i of [z.index, z.index + 1]) {
        const p = pages[i];
        if (!p || z.urls.has(keyOf(p))) continue;
        z.urls.set(keyOf(p), "loading");
        let url = "failed";
        try {
          url = await api.pageUrl(p.job.job_id, p.doc.idx, p.number, ticket);
        } catch (error) {
          if (lostSession(error)) return;
        }
        if (!isOpen()) {
          if (url !== "failed") URL.revokeObjectURL(url);
          return;
        }
        z.urls.set(keyOf(p), url);
        paint();
      }
    },
    // Twice the size it has on the screen, centred where it was tapped; a second tap fits.
    toggle(e) {
      const box = e.currentTarget.getBoundingClientRect();
      const at = { x: (e.clientX - box.left) / box.width, y: (e.clientY - box.top) / box.height };
      z.large = !z.large;
      z.largeWidth = Math.round(box.width * 2);
      paint();
      const stage = document.querySelector("[data-testid=zoom-stage]");
      if (z.large && stage) {
        stage.scrollLeft = at.x * z.largeWidth - stage.clientWidth / 2;
        stage.scrollTop = at.y * box.height * 2 - stage.clientHeight / 2;
      }
    },
    close() {
      for (const url of z.urls.values()) {
        if (url !== "loading" && url !== "failed") URL.revokeObjectURL(url);
      }
      z.urls.clear();
      z.images.clear();
    },
    key(e) {
      if (e.key === "Escape") onClose();
      else if (e.key === "ArrowRight" || e.key === "PageDown") z.go(1);
      else if (e.key === "ArrowLeft" || e.key === "PageUp") z.go(-1);
      else return;
      e.preventDefault();
    },
    render() {
      const p = pages[z.index];
      const url = z.urls.get(keyOf(p));
      let picture;
      if (url === undefined || url === "loading") {
        picture = h("div", { class: "zoom-wait" }, t("loading"));
      } else if (url === "failed") {
        picture = h("div", { class: "zoom-wait" }, t("preview_failed"));
      } else {
        // the same <img> across repaints: no flicker, no second decode
        const img = z.images.get(keyOf(p)) || h("img", { src: url, testid: "zoom-page",
          draggable: "false", onclick: (e) => z.toggle(e) });
        img.alt = `${p.doc.title}: ${t("page_n_of_m", { n: p.number, m: p.of })}`;
        img.style.width = z.large ? `${z.largeWidth}px` : "";
        z.images.set(keyOf(p), img);
        picture = img;
      }
      const where = t("page_n_of_m", { n: p.number, m: p.of });
      return h("div", { class: "zoom", testid: "zoom", role: "dialog", "aria-modal": "true",
        "aria-label": `${p.doc.title} — ${where}` },
      h("div", { class: "zoom-top" },
        h("div", { class: "zoom-title" },
          h("strong", { testid: "zoom-title" }, p.doc.title),
          h("span", { class: "zoom-where", testid: "zoom-where" }, where)),
        h("span", { class: "zoom-hint" }, t(z.large ? "zoom_hint_large" : "zoom_hint"))),
      h("div", { class: `zoom-stage${z.large ? " large" : ""}`, testid: "zoom-stage" }, picture),
      h("div", { class: "zoom-bar" },
        button(`‹ ${t("previous")}`, () => z.go(-1),
          { kind: "secondary", testid: "zoom-prev", disabled: z.index === 0 }),
        h("span", { class: "zoom-count", testid: "zoom-count" },
          t("zoom_count", { n: z.index + 1, m: pages.length })),
        button(`${t("next")} ›`, () => z.go(1),
          { kind: "secondary", testid: "zoom-next", disabled: z.index === pages.length - 1 }),
        button(t("close"), onClose, { kind: "primary", testid: "zoom-close" })));
    },
  };
  z.load();
  return z;
}

export { pagesOf, zoomView };
