// What the shell shows over the page: toasts (results and refusals in words), the key list, and one modal
// dialog at a time (the plain dismiss reason picker, the bulk result). Esc and a click beside a dialog close it.

import { refusalText } from "./api.js";
import { lang, t } from "./i18n.js";
import { KEYS } from "./keys.js";

const TOAST_MS = 6000;
const TOASTS_KEPT = 5;
const $ = (id) => document.getElementById(id);
let current = null; // {resolve, back}: the open dialog's promise and the element focused before it

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

/** A toast; its first child is the text node (update it for progress). Errors stay twice as long. */
export function toast(text, kind = "info", ms = TOAST_MS) {
  const box = el("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" });
  box.textContent = text;
  const close = el("button", { type: "button", class: "toast-close", text: "×", title: t("close") });
  close.addEventListener("click", () => box.remove());
  box.append(close);
  const list = $("toasts");
  list.append(box);
  while (list.children.length > TOASTS_KEPT) list.firstElementChild.remove();
  setTimeout(() => box.remove(), kind === "error" ? ms * 2 : ms);
  return box;
}

export function overlayOpen() {
  // the detail pane's own dialogs are <dialog> elements
  return !$("overlay-help").hidden || !$("overlay-dialog").hidden || !!document.querySelector("dialog[open]");
}

export function showHelp() {
  const dl = $("help-keys");
  dl.replaceChildren();
  for (const k of KEYS) {
    const dt = el("dt");
    for (const key of k.keys) dt.append(el("kbd", { text: key === "Escape" ? "Esc" : key }));
    dl.append(dt, el("dd", { text: t(k.help) }));
  }
  $("overlay-help").hidden = false;
  $("overlay-help").querySelector("[data-close]").focus();
}

export function dialogOpen() {
  return current !== null;
}

/** Show `build(box, done)` in the dialog overlay; resolves with what `done` is given (null on Esc). */
export function dialog(build) {
  closeDialog(null);
  const box = $("dialog");
  box.replaceChildren();
  return new Promise((resolve) => {
    current = { resolve, back: document.activeElement };
    build(box, (value) => closeDialog(value));
    $("overlay-dialog").hidden = false;
    const first = box.querySelector("input, textarea, button");
    if (first) first.focus();
  });
}

export function closeDialog(value) {
  const d = current;
  if (!d) return;
  current = null;
  $("overlay-dialog").hidden = true;
  $("dialog").replaceChildren();
  if (d.back && d.back.focus) d.back.focus();
  d.resolve(value);
}

/** The plain dismiss reason picker (digits pick a reason): {reason, text} or null. */
export function reasonDialog(reasons, count = 1) {
  return dialog((box, done) => {
    const form = el("form", { class: "reason-form" });
    form.append(el("h2", { text: t(count > 1 ? "dismiss.title_many" : "dismiss.title", { count }) }));
    const list = el("div", { class: "reason-list", role: "radiogroup" });
    reasons.forEach((r, i) => {
      const input = el("input", { type: "radio", name: "reason", value: r.code });
      if (i === 0) input.checked = true;
      list.append(el("label", {}, input, el("kbd", { text: String(i + 1) }), el("span", { text: r[lang()] || r.zh })));
    });
    const text = el("textarea", { name: "text", rows: "2", maxlength: "4000", placeholder: t("dismiss.text") });
    const ok = el("button", { type: "submit", class: "danger", text: t("dismiss.submit") });
    const cancel = el("button", { type: "button", class: "ghost", text: t("cancel") });
    cancel.addEventListener("click", () => done(null));
    form.append(list, text, el("div", { class: "dialog-buttons" }, cancel, ok));
    form.addEventListener("keydown", (e) => {
      const n = Number(e.key);
      if (e.target.tagName !== "TEXTAREA" && n >= 1 && n <= reasons.length) {
        e.preventDefault();
        form.elements.reason[n - 1].checked = true;
        form.elements.reason[n - 1].focus();
      }
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const picked = form.querySelector("input[name=reason]:checked");
      if (picked) done({ reason: picked.value, text: text.value.trim() || null });
    });
    box.append(form);
  });
}

/** What a bulk dismissal left: how many were dismissed, and each refusal in words. */
export function bulkResultDialog(ok, refused) {
  return dialog((box, done) => {
    box.append(el("h2", { text: t("bulk.result", { ok, refused: refused.length }) }));
    const list = el("ul", { class: "bulk-results" });
    for (const r of refused) {
      list.append(el("li", {}, el("code", { text: r.code }), el("span", { text: refusalText(r.error) })));
    }
    const close = el("button", { type: "button", class: "primary", text: t("close") });
    close.addEventListener("click", () => done(null));
    box.append(list, el("p", { class: "muted", text: t("bulk.kept") }), el("div", { class: "dialog-buttons" }, close));
  });
}
