// One evidence entry checked in the page, each step shown in words: the published key, the checkpoint's
// signature, the entry's hash, its inclusion proof. The material comes from the gateway
// (/api/evidence/entries/{index}, /api/public/vkey) and every check runs here (js/verify.js), so a reviewer
// sees for themselves that the entry is the one the log signed, and which step fails when it is not.

import { STEPS, verifyEntry } from "./verify.js";

// The console's detail and the public page both show this view; it brings its few rules with it instead of
// depending on either page's stylesheet. Colours fall back to the console's variables. Rules start with .vf so
// that a host page's list rules (the detail's evidence list styles its li) do not reach the steps.
const RULES = `
.vf { --vf-ok: var(--ok, #1a7f37); --vf-ok-soft: var(--ok-soft, #e3f4e8); --vf-bad: var(--bad, #c0262d);
  --vf-bad-soft: var(--bad-soft, #fde7e8); --vf-muted: var(--muted, #5f6b7a); --vf-line: var(--line, #d9dee5);
  --vf-gap: var(--gap-s, 6px); --vf-mono: var(--mono, ui-monospace, monospace);
  border: 1px solid var(--vf-line); border-radius: 6px; padding: var(--vf-gap) calc(var(--vf-gap) * 2);
  margin-top: var(--vf-gap); }
.vf-summary { margin: 0 0 var(--vf-gap); font-weight: 600; }
.vf-summary[data-state="ok"] { color: var(--vf-ok); }
.vf-summary[data-state="fail"] { color: var(--vf-bad); }
.vf-summary[data-state="running"], .vf-summary[data-state="pending"] { color: var(--vf-muted); }
.vf .vf-steps { list-style: none; margin: 0; padding: 0; display: grid; gap: 2px; }
.vf .vf-step { display: grid; grid-template-columns: 1.6em minmax(7em, max-content) 1fr; gap: var(--vf-gap);
  align-items: baseline; padding: 2px 4px; border-radius: 4px; }
.vf-step[data-ok="true"] .vf-mark { color: var(--vf-ok); }
.vf-step[data-ok="false"] { background: var(--vf-bad-soft); }
.vf-step[data-ok="false"] .vf-mark, .vf-step[data-ok="false"] .vf-name { color: var(--vf-bad); }
.vf-step[data-ok="null"] { color: var(--vf-muted); }
.vf-mark { font-weight: 700; text-align: center; }
.vf-name { font-weight: 600; white-space: nowrap; }
.vf-text { overflow-wrap: anywhere; }
.vf-tech { margin-top: var(--vf-gap); color: var(--vf-muted); font-size: 12px; }
.vf-tech dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px var(--vf-gap); margin: 4px 0; }
.vf-tech dd { margin: 0; font-family: var(--vf-mono); overflow-wrap: anywhere; }
.vf-tech pre { font-family: var(--vf-mono); white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
.vf-again { margin-top: var(--vf-gap); }
`;

let sheet = null;

function ensureRules() {
  if (sheet || typeof CSSStyleSheet === "undefined" || !("adoptedStyleSheets" in document)) return;
  sheet = new CSSStyleSheet();
  sheet.replaceSync(RULES);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** ctx.t(key, params), or `fallback` when the messages have no such key (t answers with the key then). */
function say(ctx, key, params, fallback) {
  const text = ctx.t(key, params);
  return text === key ? fallback : text;
}

function stepText(ctx, s) {
  const params = { ...s.params };
  if (params.because) params.because = say(ctx, `verify.step.${params.because}`, {}, params.because);
  return say(ctx, `verify.${s.step}.${s.code}`, params, s.detail);
}

function mark(ctx, ok) {
  const word = ok === true ? "ok" : ok === false ? "fail" : "skip";
  return say(ctx, `verify.mark.${word}`, {}, { ok: "\u2713", fail: "\u2717", skip: "\u2014" }[word]);
}

function stepsList(ctx, result) {
  return el("ol", { class: "vf-steps" }, result.steps.map((s, i) =>
    el("li", { class: "vf-step", dataset: { step: s.step, ok: String(s.ok), code: s.code } },
      el("span", { class: "vf-mark", "aria-hidden": "true" }, mark(ctx, s.ok)),
      el("span", { class: "vf-name" }, say(ctx, "verify.step_n", { n: i + 1, step: say(ctx, `verify.step.${s.step}`,
        {}, s.step) }, `${i + 1}. ${s.step}`)),
      el("span", { class: "vf-text" }, stepText(ctx, s)))));
}

function technical(ctx, got, vkey) {
  const rows = [
    ["verify.tech.index", String(got.index)],
    ["verify.tech.leaf_hash", got.leaf_hash || ""],
    ["verify.tech.size", got.proof ? String(got.proof.size) : ""],
    ["verify.tech.root", got.proof ? got.proof.root : ""],
    ["verify.tech.vkey", vkey.trim()],
  ];
  return el("details", { class: "vf-tech" },
    el("summary", {}, say(ctx, "verify.tech", {}, "details")),
    el("dl", {}, rows.map(([k, v]) => [el("dt", {}, say(ctx, k, {}, k)), el("dd", {}, v)])),
    got.proof ? el("pre", { class: "vf-checkpoint" }, got.proof.checkpoint) : null);
}

function summary(ctx, state, params = {}) {
  const fallback = { running: "…", ok: "\u2713", fail: "\u2717", pending: "…", error: "\u2717" }[state];
  return el("p", { class: "vf-summary", dataset: { state }, role: "status" },
    say(ctx, `verify.summary.${state}`, params, fallback));
}

/**
 * Verify evidence entry `entry` ({index, role, leaf_hash}) into `el`: a summary naming the step that failed,
 * each step with ✓/✗ and why, the technical details, and a button to check again. `ctx` = {api, t} (the
 * console's). Runs at once unless `{immediate: false}` (then only the button shows). Returns {run(), destroy()}.
 */
export function renderVerify(host, entry, ctx, { immediate = true } = {}) {
  ensureRules();
  const box = el("div", { class: "vf", dataset: { index: String(entry.index) } });
  const body = el("div", { class: "vf-body" });
  const again = el("button", { type: "button", class: "vf-again" });
  box.append(body, again);
  host.replaceChildren(box);
  let view = { state: "idle" };
  let run = 0;
  let alive = true;

  function draw() {
    again.textContent = say(ctx, view.state === "idle" ? "verify.run" : "verify.again", {},
      view.state === "idle" ? "verify" : "again");
    again.disabled = view.state === "running";
    box.dataset.state = view.state;
    const parts = [];
    if (view.state === "running") parts.push(summary(ctx, "running", { index: entry.index }));
    if (view.state === "error") parts.push(summary(ctx, "error", { message: view.message }));
    if (view.state === "pending") parts.push(summary(ctx, "pending", { index: entry.index, reason: view.reason }));
    if (view.state === "done") {
      const r = view.result;
      const failed = r.failed;
      parts.push(r.ok ? summary(ctx, "ok", { index: entry.index, size: view.got.proof.size })
        : summary(ctx, "fail", { index: entry.index, n: STEPS.indexOf(failed) + 1,
          step: say(ctx, `verify.step.${failed}`, {}, failed) }));
      parts.push(stepsList(ctx, r), technical(ctx, view.got, view.vkey));
      box.dataset.failed = failed || "";
    } else {
      delete box.dataset.failed;
    }
    body.replaceChildren(...parts);
  }

  async function verify() {
    const mine = ++run;
    view = { state: "running" };
    draw();
    let next;
    try {
      const [got, vkey] = await Promise.all([ctx.api.get(`/api/evidence/entries/${entry.index}`),
        ctx.api.getText("/api/public/vkey")]);
      if (!got.proof) {
        next = { state: "pending", reason: got.pending || "" };
      } else {
        // The index asked for, not the one the answer states: an answer about another entry must not pass.
        const result = await verifyEntry({ entryB64: got.entry, index: entry.index, proof: got.proof, vkey,
          leafHash: [got.leaf_hash, entry.leaf_hash].filter(Boolean) });
        next = { state: "done", result, got, vkey };
      }
    } catch (err) {
      next = { state: "error", message: ctx.refusalText ? ctx.refusalText(err) : String(err?.message || err) };
    }
    if (!alive || mine !== run) return;
    view = next;
    draw();
  }

  const onLang = () => draw();
  again.addEventListener("click", () => verify());
  window.addEventListener("langchange", onLang);
  draw();
  if (immediate) verify();
  return {
    run: verify,
    destroy() {
      alive = false;
      window.removeEventListener("langchange", onLang);
      box.remove();
    },
  };
}
