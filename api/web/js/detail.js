// One alert on one screen: what, where and when; the device with its review and calibration record; subject,
// item, standard and clause; the chart and the map; media; the review history; the evidence entries with a
// verify button each; and the review decisions the signed-in role may take. The server decides every
// decision again; a refusal comes back in words (ctx.refusalText), never as a bare status code.

import { renderChart } from "./chart.js";
import { admissibility, evidenceSection, facts, header, historySection, leaseLive, mediaSection, overrideCovers,
  reasonText, section } from "./detail_sections.js";
import { h, langOf, modal, askText } from "./detail_ui.js";
import { renderMap } from "./map.js";

const TRACK_KINDS = new Set(["drone", "dock"]);
const OPEN = new Set(["new", "in_review"]);
const REVIEWER_ROLES = new Set(["operator", "supervisor"]);
const PATHS = { claim: "claim", release: "release", confirm: "confirm", dismiss: "dismiss",
  legal_approve: "legal-review", legal_reject: "legal-review", "legal-review": "legal-review",
  override: "override", reassign: "reassign" };
const KEYS = { confirm: "c", dismiss: "d" };
const CACHE_MS = 60_000;
const TRACK_MARGIN_MS = 5 * 60_000;

const cache = new Map();

/** GET through ctx.api, kept for a minute: zones and boundaries change rarely and every detail needs them. */
function cached(ctx, path, params) {
  const key = path + JSON.stringify(params || {});
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.value;
  const value = ctx.api.get(path, params);
  cache.set(key, { at: Date.now(), value });
  value.catch(() => cache.delete(key));
  return value;
}

/** The review actions `me` (/api/me) may take on `alert` now, in the order the console offers them. */
export function actionsFor(alert, me, now = Date.now()) {
  if (!alert || !me || !REVIEWER_ROLES.has(me.role)) return [];
  const out = [];
  const open = OPEN.has(alert.status);
  const live = leaseLive(alert, now);
  const mine = live && alert.claimed_by_name === me.name;
  if (open && !live) out.push("claim");
  if (open && mine) {
    out.push("release");
    if (alert.category !== "quality_exceedance") out.push("confirm");
    out.push("dismiss");
  }
  if (me.role === "supervisor") {
    if (open && !alert.admissible && !overrideCovers(alert)) out.push("override");
    if (open) out.push("reassign");
    if (alert.status === "confirmed" && alert.legal_review_required !== false) out.push("legal_approve", "legal_reject");
  }
  return out;
}

/** POST /api/alerts/{code}/{action}; resolves with the decision (ReviewDecisionOut), throws ApiError. */
export async function decide(code, action, body, ctx) {
  const path = PATHS[action];
  if (!path) throw new Error(`unknown review action ${action}`);
  let payload = body || {};
  if (action === "legal_approve") payload = { decision: "approve", ...payload };
  if (action === "legal_reject") payload = { decision: "reject", ...payload };
  return ctx.api.post(`/api/alerts/${encodeURIComponent(code)}/${path}`, payload);
}

/** The dismiss reason picker: configured reasons (digits pick one), free text. {reason, text} or null. */
export async function pickDismissReason(ctx) {
  const { dismiss_reasons: reasons } = await cached(ctx, "/api/review/reasons");
  const lang = langOf(ctx);
  return modal(ctx, {
    title: ctx.t("detail.dismiss_title"), submit: ctx.t("detail.action.dismiss"), cls: "dt-dismiss-dialog",
    build(form) {
      const list = h("fieldset", { class: "dt-reasons" }, h("legend", {}, ctx.t("detail.dismiss_reason")));
      const inputs = reasons.map((r, i) => {
        const input = h("input", { type: "radio", name: "reason", value: r.code, checked: i === 0 && reasons.length === 1 });
        list.append(h("label", { class: "dt-reason" }, input, h("kbd", {}, i < 9 ? String(i + 1) : ""),
          h("span", {}, lang === "en" ? r.en : r.zh)));
        return input;
      });
      const text = h("textarea", { rows: 3, maxlength: 4000, "aria-label": ctx.t("detail.dismiss_text") });
      form.append(list, h("label", {}, ctx.t("detail.dismiss_text"), text));
      form.addEventListener("keydown", (e) => {
        const n = Number(e.key);
        if (e.target !== text && n >= 1 && n <= Math.min(9, inputs.length)) {
          inputs[n - 1].checked = true;
          inputs[n - 1].focus();
          e.preventDefault();
        }
      });
      return () => {
        const chosen = inputs.find((i) => i.checked);
        if (!chosen) throw new Error(ctx.t("detail.dismiss_pick"));
        return { reason: chosen.value, text: text.value.trim() || null };
      };
    },
  });
}

function askReassign(ctx, alert) {
  return modal(ctx, {
    title: ctx.t("detail.reassign_title"), submit: ctx.t("detail.action.reassign"),
    build(form) {
      const id = h("input", { type: "number", min: 1, step: 1, inputmode: "numeric" });
      const back = h("input", { type: "checkbox" });
      back.addEventListener("change", () => { id.disabled = back.checked; });
      form.append(
        h("p", { class: "dt-dialog-hint" }, alert.claimed_by_name
          ? ctx.t("detail.reassign_holder", { name: alert.claimed_by_name }) : ctx.t("detail.reassign_nobody")),
        h("label", {}, ctx.t("detail.reassign_token"), id),
        h("p", { class: "dt-dialog-hint" }, ctx.t("detail.reassign_token_hint")),
        h("label", { class: "dt-inline" }, back, ctx.t("detail.reassign_back")));
      return () => {
        if (back.checked) return { token_id: null };
        const n = Number(id.value);
        if (!Number.isInteger(n) || n < 1) throw new Error(ctx.t("detail.reassign_need_token"));
        return { token_id: n };
      };
    },
  });
}

/** What to send for `action`, asking what it needs; null when the person cancelled. */
async function bodyFor(action, alert, ctx) {
  switch (action) {
    case "confirm": {
      const note = await askText(ctx, { title: ctx.t("detail.confirm_title"), label: ctx.t("detail.confirm_note"),
        submit: ctx.t("detail.action.confirm") });
      return note === null ? null : { note: note || null };
    }
    case "dismiss": return pickDismissReason(ctx);
    case "legal_approve": {
      const reason = await askText(ctx, { title: ctx.t("detail.approve_title"), label: ctx.t("detail.approve_reason"),
        submit: ctx.t("detail.action.legal_approve") });
      return reason === null ? null : { reason: reason || null };
    }
    case "legal_reject": {
      const reason = await askText(ctx, { title: ctx.t("detail.reject_title"), label: ctx.t("detail.reject_reason"),
        required: true, submit: ctx.t("detail.action.legal_reject") });
      return reason === null ? null : { reason };
    }
    case "override": {
      const covers = (alert.inadmissible_reasons || []).map((r) => reasonText(ctx, r)).join(", ");
      const reason = await askText(ctx, { title: ctx.t("detail.override_title"), label: ctx.t("detail.override_reason"),
        required: true, hint: ctx.t("detail.override_hint", { reasons: covers }), submit: ctx.t("detail.action.override") });
      return reason === null ? null : { reason };
    }
    case "reassign": return askReassign(ctx, alert);
    default: return {};
  }
}

function actionBar(d, ctx, run) {
  const a = d.alert;
  const actions = actionsFor(a, ctx.me);
  const bar = h("div", { class: "dt-actions", role: "toolbar", "aria-label": ctx.t("detail.actions") });
  for (const action of actions) {
    const key = KEYS[action];
    bar.append(h("button", { type: "button", class: `dt-btn dt-act-${action}${action === "confirm" ? " dt-btn-primary" : ""}`,
      dataset: { action }, onclick: () => run(action) }, ctx.t(`detail.action.${action}`), key ? h("kbd", {}, key) : null));
  }
  const hints = [];
  if (actions.includes("confirm") && !a.admissible && !overrideCovers(a)) hints.push(ctx.t("detail.hint_inadmissible"));
  if (actions.includes("legal_approve") && ctx.me && a.first_reviewer_name
      && (a.first_reviewer_token === ctx.me.token_id
        || a.first_reviewer_name.trim().toLowerCase() === ctx.me.name.trim().toLowerCase())) {
    hints.push(ctx.t("detail.hint_four_eyes", { name: a.first_reviewer_name }));
  }
  if (!actions.length && ctx.me && REVIEWER_ROLES.has(ctx.me.role) && OPEN.has(a.status) && leaseLive(a, Date.now())) {
    hints.push(ctx.t("detail.hint_held", { name: a.claimed_by_name }));
  }
  const message = h("p", { class: "dt-message", role: "status", "aria-live": "polite" });
  // With nothing to do or say the bar is not sticky, so no empty band floats over the pane as it scrolls.
  const idle = !actions.length && !hints.length;
  return h("div", { class: `dt-actions-wrap${idle ? " dt-actions-idle" : ""}` }, bar,
    hints.map((x) => h("p", { class: "dt-hint" }, x)), message);
}

async function mapInputs(d, ctx) {
  const a = d.alert;
  const zoneReq = d.zone ? cached(ctx, "/api/zones", { kind: d.zone.kind }) : Promise.resolve(null);
  const boundReq = cached(ctx, "/api/public/boundaries").catch(() => null);
  let trackReq = Promise.resolve(null);
  if (d.device && TRACK_KINDS.has(d.device.kind)) {
    const from = new Date(Date.parse(a.start_time) - TRACK_MARGIN_MS).toISOString();
    const to = new Date((a.end_time ? Date.parse(a.end_time) : Date.now()) + TRACK_MARGIN_MS).toISOString();
    trackReq = ctx.api.get(`/api/devices/${encodeURIComponent(d.device.id)}/track`, { from, to }).catch(() => null);
  }
  const [zones, boundaries, track] = await Promise.all([zoneReq.catch(() => null), boundReq, trackReq]);
  const zone = zones && zones.features ? zones.features.find((f) => (f.id ?? f.properties.id) === d.zone.id) : null;
  return { zone: zone || null, boundaries, track,
    device: d.device && { id: d.device.id, name: d.device.name, lon: d.device.lon, lat: d.device.lat },
    point: a.lon != null ? { lon: a.lon, lat: a.lat } : null };
}

/** Render the alert `code` into `el`; returns {destroy(), refresh()}. */
export async function renderDetail(el, code, ctx) {
  let parts = [];
  let urls = [];
  let generation = 0;
  let destroyed = false;

  const teardown = () => {
    for (const p of parts) p.destroy();
    for (const u of urls) URL.revokeObjectURL(u);
    parts = [];
    urls = [];
  };

  async function paint(flash = null, refused = false) {
    const mine = ++generation;
    let d;
    try {
      d = await ctx.api.get(`/api/alerts/${encodeURIComponent(code)}`);
    } catch (err) {
      if (mine !== generation || destroyed) return;
      teardown();
      el.replaceChildren(h("div", { class: "dt dt-error", role: "alert" }, ctx.refusalText(err)));
      return;
    }
    if (mine !== generation || destroyed) return;
    teardown();
    const chartEl = h("div", { class: "dt-chart-box" });
    const mapEl = h("div", { class: "dt-map-box" });
    const bar = actionBar(d, ctx, run);
    const root = h("article", { class: "dt", dataset: { code, status: d.alert.status } },
      header(d, ctx), bar, admissibility(d.alert, ctx),
      h("div", { class: "dt-visuals" },
        section(ctx.t("detail.chart"), "dt-chart-section", chartEl),
        section(ctx.t("detail.map"), "dt-map-section", mapEl)),
      facts(d, ctx), mediaSection(d, ctx, urls), historySection(d, ctx), evidenceSection(d, ctx, parts));
    el.replaceChildren(root);
    if (flash) {
      const message = bar.querySelector(".dt-message");
      message.textContent = flash;
      message.classList.toggle("dt-refused", refused);
    }
    const det = d.alert.detail || {};
    const drawn = await Promise.allSettled([
      d.chart.metric || d.chart.points.length ? renderChart(chartEl, d.chart, { t: ctx.t, fmtTime: ctx.fmtTime,
        timezone: ctx.config && ctx.config.timezone, limitLow: det.limit_low,
        window: { start: d.alert.start_time, end: d.alert.end_time } })
        : Promise.resolve(null).then(() => { chartEl.closest("section").hidden = true; return null; }),
      mapInputs(d, ctx).then((inputs) => (mine === generation && !destroyed
        ? renderMap(mapEl, { ...inputs, config: ctx.config || {}, t: ctx.t }) : null)),
    ]);
    for (const r of drawn) {
      if (r.status === "fulfilled" && r.value) {
        if (mine === generation && !destroyed) parts.push(r.value);
        else r.value.destroy();
      }
    }
  }

  async function run(action) {
    const d = el.querySelector(".dt");
    const message = el.querySelector(".dt-message");
    const buttons = el.querySelectorAll(".dt-actions button");
    let alert;
    try {
      alert = (await ctx.api.get(`/api/alerts/${encodeURIComponent(code)}`)).alert;
    } catch (err) {
      if (message) message.textContent = ctx.refusalText(err);
      return;
    }
    const body = await bodyFor(action, alert, ctx);
    if (body === null || destroyed) return;
    buttons.forEach((b) => { b.disabled = true; });
    if (d) d.classList.add("dt-busy");
    try {
      await decide(code, action, body, ctx);
    } catch (err) {
      const words = ctx.refusalText(err);
      // A refusal about the alert's state (held by someone else, decided meanwhile) shows the state now.
      if (err.status >= 400 && err.status < 500 && !destroyed) return paint(words, true);
      if (message) {
        message.textContent = words;
        message.classList.add("dt-refused");
      }
      buttons.forEach((b) => { b.disabled = false; });
      if (d) d.classList.remove("dt-busy");
      return;
    }
    await paint(ctx.t("detail.done", { action: ctx.t(`detail.action.${action}`) }));
    if (ctx.onChanged) ctx.onChanged(code);
  }

  el.replaceChildren(h("div", { class: "dt dt-loading" }, ctx.t("detail.loading")));
  await paint();
  return {
    refresh: () => paint(),
    run,
    destroy() {
      destroyed = true;
      generation += 1;
      teardown();
      el.replaceChildren();
    },
  };
}
