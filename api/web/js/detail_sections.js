// What the alert detail shows, section by section (js/detail.js puts them on the page with the review
// actions): the header with a one-line summary, admissibility, what/where/when, the device's review and
// calibration record, media, the review history and the evidence entries with their verify buttons.

import { h, tr, langOf, fmtNum, fmtSize, fetchBlob, download } from "./detail_ui.js";

/** Whether someone holds the alert's claim now. */
export function leaseLive(alert, now) {
  return Boolean(alert.claimed_by_name && alert.claim_expires_at && Date.parse(alert.claim_expires_at) > now);
}

/** Whether a supervisor's override covers every reason the alert is inadmissible for (so it may be confirmed). */
export function overrideCovers(alert) {
  const reasons = alert.inadmissible_reasons && alert.inadmissible_reasons.length
    ? alert.inadmissible_reasons : ["unstated"];
  const covered = new Set(alert.override_reasons || []);
  return reasons.every((r) => covered.has(r));
}

export function reasonText(ctx, code) {
  return tr(ctx, `inadmissible.${code}`, {}, code);
}

function time(ctx, iso) {
  return iso ? ctx.timeEl(iso) : h("span", { class: "dt-muted" }, ctx.t("detail.none"));
}

function badge(text, kind) {
  return h("span", { class: `dt-badge dt-badge-${kind}` }, text);
}

function fact(label, ...value) {
  return [h("dt", {}, label), h("dd", {}, ...value)];
}

export function section(title, cls, ...body) {
  return h("section", { class: `dt-section ${cls}` }, h("h3", {}, title), ...body);
}

export function header(d, ctx) {
  const a = d.alert;
  const head = h("header", { class: "dt-head" },
    h("div", { class: "dt-title" },
      h("h2", {}, tr(ctx, `kind.${a.kind}`, {}, a.kind)),
      h("span", { class: "dt-code" }, a.clue_code)),
    h("div", { class: "dt-badges" },
      badge(tr(ctx, `status.${a.status}`, {}, a.status), `status-${a.status}`),
      badge(tr(ctx, `severity.${a.severity}`, {}, a.severity), `sev-${a.severity}`),
      a.category === "quality_exceedance" ? badge(ctx.t("detail.category.quality_exceedance"), "info") : null,
      a.admissible ? badge(ctx.t("detail.admissible"), "ok") : badge(ctx.t("detail.inadmissible_badge"), "bad"),
      a.end_time ? null : badge(ctx.t("detail.ongoing_badge"), "live")));
  head.append(summaryLine(d, ctx));
  if (leaseLive(a, Date.now())) {
    head.append(h("p", { class: "dt-claim" }, ctx.t("detail.claimed_by", { name: a.claimed_by_name }), " ",
      ctx.timeEl(a.claim_expires_at)));
  }
  return head;
}

/** The alert in one line: the value against its limit, the place, the span, the device. */
function summaryLine(d, ctx) {
  const a = d.alert;
  const det = a.detail || {};
  const unit = det.unit ? ` ${det.unit}` : "";
  const parts = [];
  if (det.peak_value != null && det.limit_value != null) {
    parts.push(h("strong", { title: String(det.peak_value) }, ctx.t(det.comparison === "min" ? "detail.summary_below"
      : "detail.summary_above", { value: `${fmtNum(det.peak_value)}${unit}`, limit: `${fmtNum(det.limit_value)}${unit}` })));
  }
  if (d.zone) parts.push(h("span", {}, d.zone.name));
  parts.push(h("span", {}, ctx.timeEl(a.start_time), " – ", a.end_time ? ctx.timeEl(a.end_time) : ctx.t("detail.ongoing")));
  if (d.device) parts.push(h("span", {}, d.device.name));
  const line = h("p", { class: "dt-summary" });
  parts.forEach((p, i) => line.append(...(i ? [h("span", { class: "dt-sep" }, " · "), p] : [p])));
  return line;
}

export function admissibility(a, ctx) {
  if (a.admissible && !a.override_name) return null;
  const box = h("div", { class: a.admissible || overrideCovers(a) ? "dt-note" : "dt-warn", role: "note" });
  if (!a.admissible) {
    box.append(h("strong", {}, ctx.t("detail.inadmissible_title")),
      h("ul", {}, (a.inadmissible_reasons.length ? a.inadmissible_reasons : ["unstated"])
        .map((r) => h("li", { dataset: { reason: r } }, reasonText(ctx, r)))));
  }
  if (a.override_name) {
    box.append(h("p", { class: "dt-override" }, ctx.t("detail.overridden_by", { name: a.override_name,
      reasons: (a.override_reasons || []).map((r) => reasonText(ctx, r)).join(", ") }), " ",
    ctx.timeEl(a.override_at), h("q", {}, a.override_reason || "")));
  }
  return box;
}

export function facts(d, ctx) {
  const a = d.alert;
  const det = a.detail || {};
  const value = (v) => (v == null ? "" : `${fmtNum(v)}${det.unit ? ` ${det.unit}` : ""}`);
  const where = [];
  if (d.zone) where.push(...fact(ctx.t("detail.zone"), d.zone.name, " ", h("span", { class: "dt-muted" },
    tr(ctx, `detail.zone_kind.${d.zone.kind}`, {}, d.zone.kind))));
  if (a.lon != null) where.push(...fact(ctx.t("detail.position"), `${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}`));
  return h("div", { class: "dt-facts" },
    section(ctx.t("detail.what"), "dt-what", h("dl", {},
      fact(ctx.t("detail.standard"), [det.standard, det.clause].filter(Boolean).join(" ") || ctx.t("detail.none")),
      det.limit_value != null ? fact(ctx.t("detail.measured"), h("strong", { title: String(det.peak_value) },
        value(det.peak_value)), " / ",
        ctx.t(`detail.limit_${det.comparison === "min" ? "min" : "max"}`, { limit: value(det.limit_value) })) : null,
      det.averaging ? fact(ctx.t("detail.method"), ctx.t("detail.averaging", {
        averaging: tr(ctx, `detail.averaging.${det.averaging}`, {}, det.averaging),
        minutes: det.window_s ? Math.round(det.window_s / 60) : "" })) : null,
      fact(ctx.t("detail.rule"), h("code", {}, a.rule_id)),
      fact(ctx.t("detail.start"), time(ctx, a.start_time)),
      fact(ctx.t("detail.peak"), time(ctx, a.peak_time)),
      fact(ctx.t("detail.end"), a.end_time ? ctx.timeEl(a.end_time) : ctx.t("detail.ongoing"),
        a.end_reason ? h("span", { class: "dt-muted" }, ` ${tr(ctx, `detail.end_reason.${a.end_reason}`, {},
          a.end_reason)}`) : null))),
    section(ctx.t("detail.where"), "dt-where", h("dl", {}, where,
      fact(ctx.t("detail.subject"), d.subject.name || "", " ", h("span", { class: "dt-muted" }, d.subject.code)),
      fact(ctx.t("detail.item"), d.subject.enforcement_item || ctx.t("detail.none")))),
    deviceSection(d.device, a, ctx));
}

function deviceSection(dev, a, ctx) {
  if (!dev) return section(ctx.t("detail.device"), "dt-device", h("p", {}, a.device_id));
  const until = dev.calibration_valid_until;
  const expired = until && Date.parse(until) < Date.parse(a.start_time);
  const expiredNow = until && Date.parse(until) < Date.now();
  const missing = (v) => v || h("span", { class: "dt-missing" }, ctx.t("detail.missing"));
  return section(ctx.t("detail.device"), "dt-device", h("dl", {},
    fact(ctx.t("detail.device_name"), dev.name, " ", h("span", { class: "dt-muted" },
      `${tr(ctx, `detail.device_kind.${dev.kind}`, {}, dev.kind)} · ${dev.id}`)),
    dev.inspection_object ? fact(ctx.t("detail.inspection_object"), dev.inspection_object) : null,
    fact(ctx.t("detail.legal_review_ref"), missing(dev.legal_review_ref)),
    fact(ctx.t("detail.technical_review_ref"), missing(dev.technical_review_ref)),
    fact(ctx.t("detail.calibration"), missing(dev.calibration_cert), " ",
      until ? h("span", { class: "dt-cal" }, expired || expiredNow
        ? badge(ctx.t(expired ? "detail.calibration_expired_at_alert" : "detail.calibration_expired"), "bad")
        : badge(ctx.t("detail.calibration_valid"), "ok"), " ", ctx.t("detail.valid_until"), " ",
      ctx.timeEl(until)) : null),
    dev.public_notice ? fact(ctx.t("detail.public_notice"), h("a", { href: dev.public_notice, target: "_blank",
      rel: "noopener noreferrer" }, ctx.t("detail.open_notice"))) : null));
}

export function mediaSection(d, ctx, urls) {
  if (!d.media.length) return null;
  const list = h("ul", { class: "dt-media" });
  for (const m of d.media) {
    const label = `${tr(ctx, `detail.media_role.${m.role}`, {}, m.role)} · ${m.mime} · ${fmtSize(m.size)}`;
    const name = `${m.role}-${m.sha256.slice(0, 12)}`;
    const save = h("button", { type: "button", class: "dt-btn dt-btn-small", onclick: () => download(ctx, m.url, name)
      .catch((e) => { save.textContent = `${ctx.t("detail.media_failed")}: ${e.message}`; }) }, ctx.t("detail.download"));
    const item = h("li", { dataset: { mime: m.mime } }, h("span", {}, label), " ", save);
    if (m.mime.startsWith("image/") || m.mime.startsWith("video/")) {
      const isVideo = m.mime.startsWith("video/");
      const view = isVideo ? h("video", { controls: true, preload: "metadata" }) : h("img", { alt: label });
      item.prepend(h("figure", {}, view));
      fetchBlob(ctx, m.url).then((blob) => {
        const url = URL.createObjectURL(blob);
        if (!view.isConnected) { URL.revokeObjectURL(url); return; }
        urls.push(url);
        view.src = url;
      }).catch((e) => view.replaceWith(h("span", { class: "dt-muted" }, `${ctx.t("detail.media_failed")}: ${e.message}`)));
    }
    list.append(item);
  }
  return section(ctx.t("detail.media"), "dt-media-section", list);
}

function reviewLine(r, ctx) {
  const rv = r.review;
  const lang = langOf(ctx);
  const key = rv.decision === "legal_review" ? `detail.decision.legal_review_${rv.outcome}` : `detail.decision.${rv.decision}`;
  const why = [];
  if (rv.reason_label) why.push(lang === "en" ? rv.reason_label.en : rv.reason_label.zh);
  else if (rv.reason) why.push(rv.reason);
  if (rv.text) why.push(rv.text);
  if (rv.note) why.push(rv.note);
  if (rv.decision === "override" && rv.covers) why.push(ctx.t("detail.covers", { reasons: rv.covers.map((c) => reasonText(ctx, c)).join(", ") }));
  if (rv.decision === "reassign") why.push(rv.to ? ctx.t("detail.reassigned_to", { name: rv.to.name }) : ctx.t("detail.reassigned_back"));
  const who = rv.reviewer || {};
  return h("tr", { dataset: { decision: rv.decision } },
    h("td", {}, ctx.timeEl(rv.time || r.time)),
    h("td", {}, who.name || "", " ", h("span", { class: "dt-muted" }, tr(ctx, `role.${who.role}`, {}, who.role || ""))),
    h("td", {}, tr(ctx, key, {}, rv.decision)),
    h("td", {}, tr(ctx, `status.${rv.status}`, {}, rv.status || "")),
    h("td", { class: "dt-why" }, why.join(" — ")));
}

export function historySection(d, ctx) {
  const body = d.reviews.length
    ? h("table", { class: "dt-table dt-history" },
      h("thead", {}, h("tr", {}, ["time", "who", "decision", "status", "why"].map((c) => h("th", {}, ctx.t(`detail.history_${c}`))))),
      h("tbody", {}, d.reviews.map((r) => reviewLine(r, ctx))))
    : h("p", { class: "dt-muted" }, ctx.t("detail.no_reviews"));
  return section(ctx.t("detail.history"), "dt-history-section", body);
}

export function evidenceSection(d, ctx, verifiers) {
  if (!d.evidence.length) return section(ctx.t("detail.evidence"), "dt-evidence", h("p", { class: "dt-muted" }, ctx.t("detail.no_evidence")));
  const list = h("ul", { class: "dt-evidence-list" });
  for (const e of d.evidence) {
    const out = h("div", { class: "dt-verify-out" });
    // Also while the entry awaits its checkpoint: the verifier says so, and it may have one by now.
    const button = h("button", { type: "button", class: "dt-btn dt-btn-small dt-verify" }, ctx.t("detail.verify"));
    let shown = null;
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const mod = await import("./verify_view.js");
        if (shown) {
          shown.destroy();
          verifiers.splice(verifiers.indexOf(shown), 1);
        }
        shown = await mod.renderVerify(out, e, ctx);
        if (shown && typeof shown.destroy === "function") verifiers.push(shown);
        else shown = null;
      } catch (err) {
        out.replaceChildren(h("p", { class: "dt-muted" }, ctx.t("detail.verify_unavailable"), " ", String(err.message || err)));
      } finally {
        button.disabled = false;
      }
    });
    list.append(h("li", { dataset: { index: e.index } },
      h("span", { class: "dt-ev-role" }, tr(ctx, `detail.evidence_role.${e.role}`, {}, e.role)),
      h("code", {}, `#${e.index}`),
      e.leaf_hash ? h("code", { class: "dt-hash", title: e.leaf_hash }, e.leaf_hash.slice(0, 16) + "…")
        : h("span", { class: "dt-muted", title: e.pending || "" }, ctx.t("detail.pending")),
      button, out));
  }
  return section(ctx.t("detail.evidence"), "dt-evidence", list);
}
