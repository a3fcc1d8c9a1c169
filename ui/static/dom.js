// Small DOM helpers and the on-screen numeric keypad (no system keyboard ever pops up).

import { t } from "./i18n.js";

// h("div", {class: "x", testid: "y", onclick: f}, child, "text", [more]) → element.
// Text always goes in through text nodes: no HTML is ever parsed from data.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "testid") el.dataset.testid = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(3)) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

// A button; `kind` adds a colour class (primary, good, bad, quiet, big).
export function button(label, onClick, { kind = "", testid, disabled = false, extra = {} } = {}) {
  return h("button", { type: "button", class: kind, testid, disabled, onclick: onClick, ...extra },
    label);
}

// A note box: {kind: "error"|"warn"|"ok"|"info", text}.
export function noteBox(note, testid = "message") {
  return h("div", { class: `note ${note ? note.kind : "empty"}`, testid }, note ? note.text : "");
}

export function groupDigits(digits) {
  return digits.replace(/(\d{4})(?=\d)/g, "$1 ");
}

// The keypad: 1-9, Bersihkan, 0, Hapus. Handlers get no arguments except onDigit(d).
export function keypad({ onDigit, onBack, onClear, disabled = false }) {
  const key = (label, onClick, testid, kind = "key") =>
    button(label, onClick, { kind, testid, disabled, extra: { "aria-label": label } });
  const keys = [];
  for (const d of "123456789") keys.push(key(d, () => onDigit(d), `key-${d}`));
  keys.push(key(t("clear"), onClear, "key-clear", "key small"));
  keys.push(key("0", () => onDigit("0"), "key-0"));
  keys.push(key(`⌫ ${t("delete")}`, onBack, "key-back", "key small"));
  return h("div", { class: "keypad", testid: "keypad", role: "group" }, keys);
}

// What a key press means to a keypad screen: a digit, "back", "clear", "enter" or null.
export function keyAction(event) {
  if (event.ctrlKey || event.altKey || event.metaKey) return null;
  const target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) return null;
  if (/^[0-9]$/.test(event.key)) return event.key;
  if (event.key === "Backspace") return "back";
  if (event.key === "Delete" || event.key === "Escape") return "clear";
  if (event.key === "Enter" || event.key === "NumpadEnter") return "enter";
  return null;
}
