// Staff release without a code: the reason, then the staff member's PIN.

import * as api from "./api.js";
import { button, h } from "./dom.js";
import { t } from "./i18n.js";
import { page, show } from "./shell.js";
import { pinScreen } from "./signin.js";
import { jobTitles, showQueue } from "./queue.js";
import { bundleScreen } from "./bundle.js";

const STAFF_REASONS = ["no_phone", "lost_code", "staff_job", "other"];

// --- staff release without a code --------------------------------------------------------

function staffReasonScreen(job) {
  return {
    name: "staff", idle: true, note: null,
    render() {
      return page("staff", t("staff_title"), [
        h("p", { class: "lead" }, t("staff_help")),
        h("div", { class: "summary-one" }, h("strong", {}, job.resident_masked || ""), " — ",
          jobTitles(job)),
        h("div", { class: "choices" }, STAFF_REASONS.map((r) =>
          button(t(`rs_${r}`), () => show(staffPinScreen(job, r)),
            { kind: "choice", testid: `reason-${r}` }))),
      ], { footer: button(t("cancel"), () => showQueue(), { kind: "quiet", testid: "cancel" }) });
    },
  };
}

function staffPinScreen(job, reason) {
  return pinScreen({
    name: "staff-pin", idle: true,
    title: () => t("pin_again_title"),
    help: () => `${t(`rs_${reason}`)} — ${t("staff_pin_help")}`,
    submitLabel: () => t("confirm_pin"),
    back: () => show(staffReasonScreen(job)),
    async submit(pin) {
      const answer = await api.post("/api/staff-claim", { job_id: job.job_id, pin, reason });
      show(bundleScreen(answer, "staff"));
    },
  });
}

export { staffReasonScreen };
