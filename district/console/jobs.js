// The job list (filters: office, state, date, job number — never a name or a NIK), one
// job's history, and cancelling a job that is not printed yet.

import { call, get } from "./api.js";
import { button, confirmBox, field, h, note, table, fill } from "./dom.js";
import { eventText, stateText, t, when } from "./i18n.js";
import { can, go, problemText } from "./session.js";

const STATES = ["pushed", "received", "verified", "held", "released", "printing", "printed",
  "handed_over", "failed", "rejected", "expired", "cancelled", "purged"];
const CANCELLABLE = new Set([null, "received", "verified", "held", "released", "failed"]);
// The reason codes of a district cancel (district.admin.CANCEL_REASONS): codes, never text.
const CANCEL_REASONS = ["resident_request", "wrong_document", "wrong_office", "duplicate",
  "data_error", "kiosk_replaced", "other"];
const filters = { office: "", state: "", date: "", job_id: "" };

function option(value, label, current) {
  return h("option", { value, selected: value === current ? true : null }, label);
}

export async function jobsView(page) {
  const offices = (await get("/offices")).offices;
  const office = h("select", { testid: "filter-office" }, option("", t("all"), filters.office),
    offices.map((o) => option(o.code, `${o.name} (${o.code})`, filters.office)));
  const state = h("select", { testid: "filter-state" }, option("", t("all"), filters.state),
    STATES.map((s) => option(s, stateText(s), filters.state)));
  const date = h("input", { type: "date", testid: "filter-date", value: filters.date });
  const jobId = h("input", { testid: "filter-job", value: filters.job_id, autocomplete: "off", maxlength: 64 });
  const results = h("div", { testid: "jobs-results" });

  async function load() {
    Object.assign(filters, { office: office.value, state: state.value, date: date.value, job_id: jobId.value.trim() });
    const query = new URLSearchParams({ limit: "200" });
    if (filters.office) query.set("office", filters.office);
    if (filters.state) query.set("state", filters.state);
    if (filters.job_id) query.set("job_id", filters.job_id);
    if (filters.date) {
      const start = Math.floor(new Date(`${filters.date}T00:00:00`).getTime() / 1000);
      query.set("since_s", String(start));
      query.set("until_s", String(start + 86400));
    }
    fill(results, h("p", {}, t("loading")));
    try {
      const answer = await get(`/jobs?${query}`);
      fill(results, h("p", { class: "muted", testid: "jobs-total" }, t("total", { n: answer.total })));
      if (!answer.jobs.length) { results.append(h("p", { class: "lead" }, t("no_jobs"))); return; }
      results.append(table([t("job_id"), t("office"), t("state"), t("when"), t("expires")],
        answer.jobs.map((j) => h("tr", { testid: `job-row-${j.job_id}` },
          h("td", {}, h("a", { href: `#job/${encodeURIComponent(j.job_id)}` }, j.job_id)),
          h("td", {}, j.office_code), h("td", {}, stateText(rowState(j))),
          h("td", {}, when(j.created_s)), h("td", {}, when(j.expires_s)))), "jobs-table"));
    } catch (error) {
      fill(results, note("error", problemText(error)));
    }
  }

  const form = h("form", { class: "filters", testid: "jobs-filters" },
    field(t("office"), office), field(t("state"), state), field(t("date"), date),
    field(t("job_id"), jobId), h("button", { type: "submit", class: "primary", testid: "filter-go" }, t("filter")));
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
  fill(page, h("h1", {}, t("jobs_title")), form, results);
  await load();
}

function rowState(j) {
  return j.cancelled_s !== null && !j.state ? "cancelled" : (j.state || "pushed");
}

export async function jobView(page, jobId) {
  const job = await get(`/jobs/${encodeURIComponent(jobId)}`);
  const message = h("div", { class: "message-slot" });
  const state = rowState(job);
  const cancellable = can("jobs:cancel") && job.cancelled_s === null && CANCELLABLE.has(job.state);
  const reason = cancellable
    ? h("select", { testid: "cancel-reason", "aria-label": t("cancel_reason") },
      option("", t("cancel_reason_pick"), ""),
      CANCEL_REASONS.map((code) => option(code, t(`reason_${code}`), "")))
    : null;
  const cancel = cancellable
    ? button(t("cancel_job"), async () => {
      message.replaceChildren();
      if (!reason.value) {
        message.append(note("error", t("cancel_reason_needed")));
        return;
      }
      if (!(await confirmBox(t("cancel_confirm", { id: job.job_id }), t("yes_cancel"), t("no_back")))) return;
      try {
        await call("POST", `/jobs/${encodeURIComponent(job.job_id)}/cancel`,
          { json: { reason: reason.value } });
        await jobView(page, jobId);
        page.querySelector(".message-slot").append(note("ok", t("cancelled_ok")));
      } catch (error) {
        message.append(note("error", problemText(error)));
      }
    }, { kind: "bad", testid: "job-cancel" })
    : null;
  fill(page, 
    h("h1", {}, `${t("job_id")} ${job.job_id}`),
    h("dl", { class: "facts" },
      h("dt", {}, t("office")), h("dd", {}, job.office_code),
      h("dt", {}, t("state")), h("dd", { testid: "job-state" }, stateText(state)),
      h("dt", {}, t("device")), h("dd", {}, job.device_id),
      h("dt", {}, t("expires")), h("dd", {}, when(job.expires_s))),
    h("h2", {}, t("timeline")),
    h("ol", { class: "timeline", testid: "job-timeline" }, job.timeline.map((e) =>
      h("li", { testid: `timeline-${e.event}` }, h("time", {}, when(e.at_s)), " ",
        h("span", {}, eventText(e.event, e.state))))),
    message,
    h("div", { class: "row" },
      button(t("back"), () => go("#jobs"), { kind: "quiet", testid: "job-back" }), reason, cancel));
}
