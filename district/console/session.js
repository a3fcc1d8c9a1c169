// Who is signed in (in memory only), and small helpers every view shares.

import { ApiError } from "./api.js";
import { lang, t } from "./i18n.js";

export const session = { me: null };

export function can(scope) {
  return session.me !== null && session.me.scopes.includes(scope);
}

// A refusal or failure as one sentence for the screen.
export function problemText(error) {
  if (!(error instanceof ApiError)) return t("unknown_error");
  if (error.code === "network") return t("network_error");
  if (error.status === 403 && error.code === "forbidden") return t("forbidden");
  if (error.message && (lang() === "en" || error.status === 400)) return error.message;
  return t("unknown_error");
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
