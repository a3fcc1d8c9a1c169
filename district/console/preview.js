// A PDF looked at in the browser before it is sent: the first page drawn small, the page
// count and whether every page is A4 (the server checks again: kiosk/pdfcheck.py). pdf.js
// is vendored as static files (vendor/pdfjs, Apache-2.0; ADR 0023) and loaded only here.

const A4_PT = [595.28, 841.89];
const A4_TOLERANCE_PT = 3.0; // as kiosk/pdfcheck.py
export const MAX_PDF_PAGES = 50; // as kiosk/limits.py
const THUMB_PX = 150;
let pdfjs = null;

async function library() {
  if (pdfjs === null) {
    pdfjs = await import("./vendor/pdfjs/pdf.min.mjs");
    pdfjs.GlobalWorkerOptions.workerSrc = new URL("./vendor/pdfjs/pdf.worker.min.mjs", import.meta.url).href;
  }
  return pdfjs;
}

export function isA4(width, height) {
  const [short, long] = width < height ? [width, height] : [height, width];
  return Math.abs(short - A4_PT[0]) <= A4_TOLERANCE_PT && Math.abs(long - A4_PT[1]) <= A4_TOLERANCE_PT;
}

// {pages, a4, sizesMm, canvas} for a File; {error: "unreadable"} when it does not open.
export async function inspect(file) {
  const lib = await library();
  let doc;
  const data = new Uint8Array(await file.arrayBuffer());
  const task = lib.getDocument({ data, isEvalSupported: false, enableXfa: false, useWasm: false,
    useSystemFonts: true, stopAtErrors: true });
  try {
    doc = await task.promise;
  } catch {
    task.destroy();
    return { error: "unreadable" };
  }
  try {
    const pages = doc.numPages;
    const sizes = [];
    for (let i = 1; i <= Math.min(pages, MAX_PDF_PAGES); i += 1) {
      const page = await doc.getPage(i);
      const vp = page.getViewport({ scale: 1 });
      sizes.push([vp.width, vp.height]);
    }
    const first = await doc.getPage(1);
    const base = first.getViewport({ scale: 1 });
    const viewport = first.getViewport({ scale: THUMB_PX / base.width });
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(viewport.width);
    canvas.height = Math.round(viewport.height);
    canvas.dataset.testid = "preview";
    await first.render({ canvas, canvasContext: canvas.getContext("2d"), viewport }).promise;
    return {
      pages,
      a4: sizes.every(([w, h]) => isA4(w, h)),
      sizesMm: sizes.map(([w, h]) => `${Math.round((w / 72) * 25.4)}×${Math.round((h / 72) * 25.4)} mm`),
      canvas,
    };
  } catch {
    return { error: "unreadable" };
  } finally {
    task.destroy();
  }
}
