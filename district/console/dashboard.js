// The overview: today's jobs by state, kiosks not seen for 5 minutes, printers needing
// paper or ink (from the kiosks' last heartbeats), jobs waiting too long, kiosks whose last
// self-update failed or was rolled back (only when there are some), and two plots.

import { get } from "./api.js";
import { histogram, stackedBars } from "./charts.js";
import { h, fill } from "./dom.js";
import { stateText, t } from "./i18n.js";

export const OFFLINE_AFTER_S = 5 * 60;
const HELD_TOO_LONG_S = 24 * 3600;
const UNVERIFIED_TOO_LONG_S = 3600;
const LOW_MARKER_PERCENT = 10; // as district/metrics.py
const DAY_S = 86400;
const UPDATE_TROUBLE = ["rolled_back", "failed", "refused"]; // protocol §20.5

function midnight(date) {
  const d = new Date(date);
  d.setHours(0, 0, 0, 0);
  return Math.floor(d.getTime() / 1000);
}

export function printerNeeds(printer) {
  const reasons = printer.reasons || [];
  const needs = [];
  if (reasons.some((r) => /^(media-empty|media-low|media-needed)/.test(r))) needs.push("paper");
  const low = (printer.markers || []).some((m) => m.level >= 0 && m.level <= LOW_MARKER_PERCENT);
  if (low || reasons.some((r) => /^(marker-supply-low|marker-supply-empty|toner-)/.test(r))) needs.push("ink");
  return needs;
}

function card(label, value, testid, detail) {
  return h("div", { class: "stat", testid },
    h("div", { class: "value", testid: `${testid}-value` }, String(value)),
    h("div", { class: "label" }, label), detail || null);
}

export async function dashboardView(page) {
  const nowS = Math.floor(Date.now() / 1000);
  const since = midnight(Date.now()) - 13 * DAY_S;
  const [jobs, devices] = await Promise.all([
    get(`/jobs?since_s=${since}&limit=1000`), get("/devices")]);
  const today = midnight(Date.now());
  const todays = jobs.jobs.filter((j) => j.created_s >= today);
  const byState = new Map();
  for (const j of todays) {
    const state = j.cancelled_s !== null && !j.state ? "cancelled" : (j.state || "pushed");
    byState.set(state, (byState.get(state) || 0) + 1);
  }
  const live = devices.devices.filter((d) => d.revoked_s === null);
  const offline = live.filter((d) => d.last_seen_s === null || nowS - d.last_seen_s > OFFLINE_AFTER_S);
  const needy = [];
  for (const d of live) {
    for (const p of (d.heartbeat && d.heartbeat.printers) || []) {
      const needs = printerNeeds(p);
      if (needs.length) needy.push({ device: d, printer: p, needs });
    }
  }
  const waiting = jobs.jobs.filter((j) => j.cancelled_s === null && (
    (j.state === "held" && nowS - j.state_s > HELD_TOO_LONG_S)
    || ((j.state === null || j.state === "received") && nowS - j.created_s > UNVERIFIED_TOO_LONG_S)));

  const badUpdates = live.filter((d) => d.update && UPDATE_TROUBLE.includes(d.update.result));

  const stateList = h("ul", { class: "chips", testid: "dash-states" },
    [...byState.entries()].map(([state, n]) =>
      h("li", { testid: `dash-state-${state}` }, `${stateText(state)}: ${n}`)));
  const list = (items, testid) => items.length
    ? h("ul", { class: "small-list", testid }, items) : h("p", { class: "muted" }, t("dash_none"));

  const offices = [...new Set(jobs.jobs.map((j) => j.office_code))].sort();
  const days = [];
  for (let i = 13; i >= 0; i -= 1) {
    const start = midnight(Date.now()) - i * DAY_S;
    const d = new Date(start * 1000);
    const inDay = jobs.jobs.filter((j) => j.created_s >= start && j.created_s < start + DAY_S);
    days.push({ label: `${d.getDate()}/${d.getMonth() + 1}`,
      parts: offices.map((o) => ({ key: o, value: inDay.filter((j) => j.office_code === o).length })) });
  }
  const handed = jobs.jobs.filter((j) => j.state === "handed_over");
  const edges = [[0, 3600, "< 1"], [3600, 4 * 3600, "1–4"], [4 * 3600, DAY_S, "4–24"],
    [DAY_S, 3 * DAY_S, "24–72"], [3 * DAY_S, Infinity, "> 72"]];
  const buckets = edges.map(([lo, hi, label]) => ({ label: t("hours", { n: label }),
    value: handed.filter((j) => j.state_s - j.created_s >= lo && j.state_s - j.created_s < hi).length }));

  fill(page, 
    h("h1", {}, t("dash_title")),
    h("div", { class: "stats" },
      card(t("dash_today"), todays.length, "dash-today", stateList),
      card(t("dash_offline"), offline.length, "dash-offline",
        list(offline.map((d) => h("li", {}, `${d.office_code} · ${d.device_id}`)), "dash-offline-list")),
      card(t("dash_printers"), needy.length, "dash-printers",
        list(needy.map((n) => h("li", {}, `${n.device.office_code} · ${n.printer.role}: ${n.needs.map((x) => t(x)).join(", ")}`)), "dash-printers-list")),
      card(t("dash_waiting"), waiting.length, "dash-waiting",
        h("p", { class: "muted" }, t("dash_waiting_help"))),
      badUpdates.length ? card(t("dash_updates"), badUpdates.length, "dash-updates",
        list(badUpdates.map((d) => h("li", {},
          `${d.office_code} · ${d.update.version}: ${t(`upd_${d.update.result}`)}`)), "dash-updates-list"))
        : null),
    h("h2", {}, t("dash_per_day")),
    jobs.jobs.length ? stackedBars(days, offices, { title: t("dash_per_day"), testid: "chart-per-day" })
      : h("p", { class: "muted" }, t("no_data")),
    h("h2", {}, t("dash_handover")),
    handed.length ? histogram(buckets, { title: t("dash_handover"), testid: "chart-handover" })
      : h("p", { class: "muted", testid: "chart-handover-empty" }, t("no_data")));
}
