// The kiosk's local JSON API (docs/kiosk-api.md): the per-launch secret and the operator
// session travel in headers on every call; a refusal becomes an ApiError.

let secret = null;
let session = null;
let onSessionLost = () => {};
let onStale = () => {};

export class ApiError extends Error {
  constructor(status, error) {
    super(error.code || "error");
    this.status = status;
    this.code = error.code || "error";
    this.message_id = error.message_id || "";
    this.message_en = error.message_en || "";
    this.error = error;
  }
}

// Take the secret from `#k=...` and drop it from the address bar; null when missing.
export function takeSecret() {
  const match = /(?:^#|&)k=([^&]+)/.exec(location.hash);
  if (match) {
    secret = decodeURIComponent(match[1]);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return secret;
}

export function setSession(value) {
  session = value;
}

export function hasSession() {
  return session !== null;
}

export function whenSessionLost(callback) {
  onSessionLost = callback;
}

// The server no longer knows this window's secret: Cedoka was started again (a new secret,
// perhaps a new port) and this window still shows the old address. Retrying cannot help.
export function whenStale(callback) {
  onStale = callback;
}

export function isStale(error) {
  return error instanceof ApiError && error.status === 401 && error.code === "no_secret";
}

function headers(extra) {
  const h = { "X-Cedoka-Secret": secret, ...extra };
  if (session) h["X-Cedoka-Session"] = session;
  return h;
}

async function send(method, path, body, extra) {
  let answer;
  try {
    const init = { method, headers: headers(extra), cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    answer = await fetch(path, init);
  } catch {
    throw new ApiError(0, { code: "network" });
  }
  if (answer.ok) return answer;
  let error = { code: "http_" + answer.status };
  try {
    error = (await answer.json()).error || error;
  } catch {
    // not JSON: keep the status code
  }
  const failure = new ApiError(answer.status, error);
  // session_required / session_expired, or operator_removed (removed while signed in)
  if (answer.status === 401 && /^(session|operator_removed$)/.test(failure.code)) {
    session = null;
    onSessionLost(failure);
  } else if (isStale(failure)) {
    onStale(failure);
  }
  throw failure;
}

export async function get(path, extra = {}) {
  return (await send("GET", path, undefined, extra)).json();
}

export async function post(path, body = {}, extra = {}) {
  return (await send("POST", path, body, extra)).json();
}

// A document preview as a blob: URL (the caller revokes it).
export async function previewUrl(jobId, idx, ticket) {
  const extra = ticket ? { "X-Cedoka-Ticket": ticket } : {};
  const path = `/api/jobs/${encodeURIComponent(jobId)}/docs/${idx}/preview`;
  const answer = await send("GET", path, undefined, extra);
  return URL.createObjectURL(await answer.blob());
}

// One page (1-based) of a document at full-screen size, as a blob: URL (the caller revokes it).
export async function pageUrl(jobId, idx, number, ticket) {
  const extra = ticket ? { "X-Cedoka-Ticket": ticket } : {};
  const path = `/api/jobs/${encodeURIComponent(jobId)}/docs/${idx}/pages/${number}`;
  const answer = await send("GET", path, undefined, extra);
  return URL.createObjectURL(await answer.blob());
}
