// Send documents: office, resident, release rule, copies, expiry and the PDFs (dropped or
// picked), each with its document type, its first page, page count and A4 check (pdf.js,
// preview.js); the server checks again and answers with warnings; the claim code is shown
// large, once.

import { call, get } from "./api.js";
import { go, problemText } from "./session.js";
import { button, clear, field, h, note, fill } from "./dom.js";
import { lang, t } from "./i18n.js";
import { MAX_PDF_PAGES, inspect } from "./preview.js";

const MAX_PDF_BYTES = 10 * 1024 * 1024;
export const DOC_TYPES = {
  KK: ["Kartu Keluarga", "Family Card"],
  BIODATA: ["Biodata Penduduk", "Resident Biodata"],
  AKTA_LAHIR: ["Kutipan Akta Kelahiran", "Birth Certificate Extract"],
  AKTA_MATI: ["Kutipan Akta Kematian", "Death Certificate Extract"],
  AKTA_KAWIN: ["Kutipan Akta Perkawinan", "Marriage Certificate Extract"],
  AKTA_CERAI: ["Kutipan Akta Perceraian", "Divorce Certificate Extract"],
  AKTA_AKUI_ANAK: ["Kutipan Akta Pengakuan Anak", "Child Acknowledgement Extract"],
  AKTA_SAH_ANAK: ["Kutipan Akta Pengesahan Anak", "Child Legitimation Extract"],
  SKPWNI: ["Surat Keterangan Pindah", "Moving Certificate"],
  SKET: ["Surat Keterangan", "Certificate"],
};

function select(options, testid, value) {
  return h("select", { testid }, options.map(([v, label]) =>
    h("option", { value: v, selected: v === value ? true : null }, label)));
}

export async function pushView(page) {
  const offices = (await get("/offices")).offices;
  const files = [];
  const office = select(offices.map((o) => [o.code, `${o.name} (${o.code})`]), "push-office");
  const resident = h("input", { testid: "push-resident", autocomplete: "off", maxlength: 120 });
  const release = select([["claim", t("release_claim")], ["staff", t("release_staff")],
    ["auto", t("release_auto")]], "push-release", "claim");
  const copies = select([1, 2, 3].map((n) => [String(n), String(n)]), "push-copies", "1");
  const expiry = select([[24, t("expiry_hours", { n: 24 })], [72, t("expiry_days", { n: 3 })],
    [168, t("expiry_days", { n: 7 })], [336, t("expiry_days", { n: 14 })]]
    .map(([hours, label]) => [String(hours * 3600), label]), "push-expiry", String(72 * 3600));
  const list = h("ol", { class: "files", testid: "push-files" });
  const message = h("div", { class: "message-slot" });
  const picker = h("input", { type: "file", accept: "application/pdf,.pdf", multiple: true, testid: "push-pick", class: "sr-only", id: "push-pick" });
  const drop = h("div", { class: "drop", testid: "push-drop" },
    h("p", { class: "lead" }, t("drop_here")),
    h("label", { for: "push-pick", class: "button-like" }, t("pick_files")), picker);

  function add(list_) {
    clear(message);
    for (const file of list_) {
      if (!/\.pdf$/i.test(file.name) && file.type !== "application/pdf") {
        message.append(note("error", t("not_pdf", { name: file.name })));
      } else if (file.size > MAX_PDF_BYTES) {
        message.append(note("error", t("too_big", { name: file.name })));
      } else {
        const item = { file, type: "KK", facts: null };
        files.push(item);
        inspect(file).then((facts) => { item.facts = facts; drawFiles(); });
      }
    }
    drawFiles();
  }

  function problem(item) {
    if (item.facts === null) return "checking";
    if (item.facts.error) return "unreadable";
    if (item.facts.pages > MAX_PDF_PAGES) return "too_many_pages";
    return null;
  }

  function factsBox(item, i) {
    const f = item.facts;
    const testid = `push-check-${i}`;
    if (f === null) return h("p", { class: "check muted", testid }, t("checking"));
    if (f.error) return h("p", { class: "check bad", testid }, t("unreadable"));
    if (f.pages > MAX_PDF_PAGES) {
      return h("p", { class: "check bad", testid }, t("too_many_pages", { n: f.pages, max: MAX_PDF_PAGES }));
    }
    if (!f.a4) {
      const sizes = [...new Set(f.sizesMm)].join(", ");
      return h("p", { class: "check warn", testid, "data-a4": "false" }, t("not_a4", { n: f.pages, sizes }));
    }
    return h("p", { class: "check ok", testid, "data-a4": "true" }, t("pages_a4", { n: f.pages }));
  }

  function drawFiles() {
    clear(list);
    files.forEach((item, i) => {
      const type = select(Object.entries(DOC_TYPES).map(([code, names]) =>
        [code, lang() === "en" ? names[1] : names[0]]), `push-type-${i}`, item.type);
      type.addEventListener("change", () => { item.type = type.value; });
      list.append(h("li", { testid: `push-file-${i}` },
        h("div", { class: "thumb" }, item.facts && item.facts.canvas ? item.facts.canvas : null),
        h("div", { class: "filename" }, h("strong", {}, `${item.file.name} · ${Math.ceil(item.file.size / 1024)} KB`),
          factsBox(item, i)),
        field(t("doc_type"), type),
        button(t("remove"), () => { files.splice(i, 1); drawFiles(); }, { kind: "quiet", testid: `push-remove-${i}` })));
    });
  }

  picker.addEventListener("change", () => { add([...picker.files]); picker.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    add([...e.dataTransfer.files]);
  });

  const send = button(t("send"), async () => {
    clear(message);
    if (!resident.value.trim()) { message.append(note("error", t("no_resident"))); return; }
    if (!files.length) { message.append(note("error", t("no_files"))); return; }
    if (files.some((f) => problem(f) === "checking")) { message.append(note("warn", t("wait_check"))); return; }
    if (files.some((f) => problem(f) !== null)) { message.append(note("error", t("fix_files"))); return; }
    const form = new FormData();
    form.append("office", office.value);
    form.append("resident", resident.value.trim());
    form.append("release", release.value);
    form.append("copies", copies.value);
    form.append("expires_s", expiry.value);
    for (const item of files) form.append("type", item.type);
    for (const item of files) form.append("document", item.file, item.file.name);
    send.disabled = true;
    send.textContent = t("sending");
    try {
      const result = await call("POST", "/jobs", { form });
      pushed(page, result);
    } catch (error) {
      message.append(note("error", problemText(error)));
      send.disabled = false;
      send.textContent = t("send");
    }
  }, { kind: "primary big", testid: "push-send" });

  fill(page, h("h1", {}, t("push_title")),
    h("div", { class: "form-grid" },
      field(t("office"), office), field(t("resident"), resident), field(t("release"), release),
      field(t("copies"), copies), field(t("expiry"), expiry)),
    drop, list, h("p", { class: "muted" }, t("check_after")), message, send);
}

function groupDigits(code) {
  return /^\d+$/.test(code) ? code.replace(/(\d{4})(?=\d)/g, "$1 ") : code;
}

function pushed(page, result) {
  fill(page, h("h1", {}, t("pushed_title")),
    result.claim_code
      ? h("div", { class: "claim" },
        h("p", { class: "lead" }, t("claim_code_help")),
        h("div", { class: "code", testid: "claim-code" }, groupDigits(result.claim_code)))
      : h("p", { class: "lead", testid: "no-claim-code" }, t("no_claim_code")),
    h("p", {}, `${t("job_id")}: `, h("strong", { testid: "pushed-job-id" }, result.job_id)),
    result.warnings.length
      ? h("div", { class: "note warn", testid: "push-warnings" }, h("strong", {}, t("warnings")),
        h("ul", {}, result.warnings.map((w) => h("li", {}, w))))
      : null,
    h("div", { class: "row" },
      button(t("see_job"), () => go(`#job/${encodeURIComponent(result.job_id)}`), { kind: "primary", testid: "pushed-see-job" }),
      button(t("push_another"), () => pushView(page), { kind: "quiet", testid: "push-another" })));
}
