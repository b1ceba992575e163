// DOM helpers the alert detail and the tasks view share: an element builder, message lookup with a fallback,
// authorised downloads of media, and a modal dialog that keeps the console's single-key shortcuts from firing
// while someone types a reason.

/** h("div", {class: "x", onclick: f, dataset: {a: 1}}, "text", child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** ctx.t(key), or `fallback` when the message files have no such key (t returns the key itself then). */
export function tr(ctx, key, params = {}, fallback = undefined) {
  const s = ctx.t(key, params);
  return s === key && fallback !== undefined ? fallback : s;
}

/** The console's language: ctx.lang() when the shell gives one, else the document's. */
export function langOf(ctx) {
  const l = typeof ctx.lang === "function" ? ctx.lang() : document.documentElement.lang;
  return (l || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
}

/** A measured value for reading: 1 decimal from 10 up, 2 from 1, else 3 significant digits (the exact value is
 * in the evidence entry and in the element's title where it is shown). */
export function fmtNum(v) {
  if (typeof v !== "number" || !Number.isFinite(v) || Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return String(a >= 10 ? +v.toFixed(1) : a >= 1 ? +v.toFixed(2) : +v.toPrecision(3));
}

export function fmtSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** GET a protected file (media need the bearer token, which an <img src> cannot send) as a Blob. */
export async function fetchBlob(ctx, url) {
  const token = ctx.api.token ? ctx.api.token() : null;
  const r = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
  return r.blob();
}

/** Save a protected file under `name`. */
export async function download(ctx, url, name) {
  const blob = await fetchBlob(ctx, url);
  const href = URL.createObjectURL(blob);
  const a = h("a", { href, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

/**
 * A modal dialog: `build(form)` fills the form and returns a function giving the result (or throwing an Error
 * whose message is shown). Resolves with the result, or null when cancelled (Esc, the cancel button).
 */
export function modal(ctx, { title, submit, build, cls = "" }) {
  return new Promise((resolve) => {
    const message = h("p", { class: "dt-dialog-error", role: "alert" });
    const form = h("form", { method: "dialog", class: "dt-dialog-form" });
    const result = build(form);
    const cancel = h("button", { type: "button", class: "dt-btn" }, ctx.t("detail.cancel"));
    const ok = h("button", { type: "submit", class: "dt-btn dt-btn-primary" }, submit || ctx.t("detail.ok"));
    form.append(message, h("div", { class: "dt-dialog-buttons" }, cancel, ok));
    const dialog = h("dialog", { class: `dt-dialog ${cls}`, "aria-label": title }, h("h3", {}, title), form);
    let done = false;
    const finish = (value) => {
      if (done) return;
      done = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    // The shell's shortcuts (j/k/c/d/x) listen on the document: typing here must not reach them.
    dialog.addEventListener("keydown", (e) => e.stopPropagation());
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); finish(null); });
    cancel.addEventListener("click", () => finish(null));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      try {
        finish(result());
      } catch (err) {
        message.textContent = err.message;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector("input:checked, input, textarea, select");
    if (first) first.focus();
  });
}

/** Ask for a text: {title, label, required, hint, submit}; resolves with the trimmed text ("" when optional and
 * left empty) or null when cancelled. */
export function askText(ctx, { title, label, required = false, hint = null, submit = null }) {
  return modal(ctx, {
    title, submit, build(form) {
      const area = h("textarea", { rows: 4, maxlength: 4000, required, "aria-label": label });
      if (hint) form.append(h("p", { class: "dt-dialog-hint" }, hint));  // DOM append() would write "null"
      form.append(h("label", {}, label, area));
      return () => {
        const text = area.value.trim();
        if (required && !text) throw new Error(ctx.t("detail.reason_required"));
        return text;
      };
    },
  });
}
