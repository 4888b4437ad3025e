// Small DOM helpers: no framework, nothing to build.

/** h("button", {type: "button", onclick: f}, "Label") → an element. Attributes set to null/false are left out. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (["value", "checked", "selected", "files", "muted"].includes(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A labelled form field: the label wraps nothing, it names the control by id. */
let fieldCount = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++fieldCount}`;
  control.id = id;
  const hintEl = hint ? h("small", {id: `${id}-hint`, class: "hint"}, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", {class: "field"}, h("label", {for: id}, label), control, hintEl);
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function formatDate(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A status line with a progress bar, for a record that moves through stages. */
export function progressView(label) {
  const bar = h("progress", {max: 100, value: 0, "aria-label": `${label} progress`});
  const text = h("span", {class: "stage"}, "waiting");
  const root = h("div", {class: "progress", role: "group", "aria-label": label}, bar, text);
  return {
    root,
    update({status, stage, progress}) {
      if (typeof progress === "number") bar.value = progress;
      if (status === "COMPLETE" || status === "READY") bar.value = 100;
      text.textContent = [status, stage && stage !== "done" ? stage : null].filter(Boolean).join(" · ");
      root.dataset.status = status || "";
    },
  };
}

let toastTimer = 0;
/** A short message read out by screen readers (role=status). */
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

/** An error shown where it happened, naming the field the API named. */
export function errorBox(error) {
  const text = error && error.message ? error.message : String(error);
  return h("p", {class: "error", role: "alert"}, text);
}

/** A page's own stylesheet (web/assets/pages/{name}.css), added once. Prefer app.css's shared classes. */
export function useStyles(name) {
  const href = `/assets/pages/${name}.css`;
  if (!document.querySelector(`link[href="${href}"]`)) {
    document.head.append(h("link", {rel: "stylesheet", href}));
  }
}
