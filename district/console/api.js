// The admin API from the console: the session cookie is HttpOnly (the browser sends it);
// the anti-CSRF token lives in this module's memory only, never in storage.

const BASE = "/admin/v1";
let csrf = null;
let onLost = () => {};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function whenSessionLost(callback) {
  onLost = callback;
}

export function setCsrf(value) {
  csrf = value;
}

export async function call(method, path, { json, form, quiet401 = false } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let answer;
  try {
    answer = await fetch(BASE + path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", "");
  }
  if (answer.status === 204) return null;
  let data = null;
  try {
    data = await answer.json();
  } catch {
    data = null;
  }
  if (!answer.ok) {
    const err = (data && data.error) || {};
    const error = new ApiError(answer.status, err.code || "internal", err.message || "");
    error.retryAfter = Number(answer.headers.get("Retry-After") || 0);
    if (answer.status === 401 && !quiet401) {
      csrf = null;
      onLost(error);
    }
    throw error;
  }
  return data;
}

export const get = (path, opts) => call("GET", path, opts);
export const post = (path, json) => call("POST", path, { json: json ?? {} });
