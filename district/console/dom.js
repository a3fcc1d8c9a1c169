// Small DOM helpers. Text always goes in through text nodes: no HTML is parsed from data.

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

export function button(label, onClick, { kind = "", testid, disabled = false } = {}) {
  return h("button", { type: "button", class: kind, testid, disabled, onclick: onClick }, label);
}

export function note(kind, text, testid = "message") {
  return h("div", { class: `note ${kind}`, testid, role: kind === "error" ? "alert" : "status" }, text);
}

export function field(label, input) {
  return h("label", { class: "field" }, h("span", {}, label), input);
}

export function table(headers, rows, testid) {
  return h("table", { class: "grid", testid },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows));
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// A modal yes/no question (a <dialog>): resolves true on yes.
export function confirmBox(question, yes, no) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", testid: "confirm" });
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    dialog.append(h("p", { class: "lead" }, question),
      h("div", { class: "row" },
        button(no, () => done(false), { kind: "quiet", testid: "confirm-no" }),
        button(yes, () => done(true), { kind: "bad", testid: "confirm-yes" })));
    document.body.append(dialog);
    dialog.showModal();
  });
}

// Empty `el` and put `children` in (null and false are skipped, as in h()).
export function fill(el, ...children) {
  clear(el);
  for (const child of children.flat(3)) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}
