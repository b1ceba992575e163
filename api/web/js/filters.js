// The queue's view as the API reads it: which list (the queue by review status, or the legal-review queue),
// the filters of the form, the query they make, and whether a streamed alert belongs in that view (the same
// predicates as api/alerts_read.py, so a live row never shows where a reload would not put it).

import { getTimezone, label, t, zonedToIso } from "./i18n.js";

// The kinds gateway/alerts/naming.py gives; a kind the gateway adds later still shows, under its code.
export const KINDS = ["construction_noise", "environmental_noise", "social_noise", "oil_fume", "dust", "air_quality",
  "water_quality", "wastewater_discharge", "sensor_exceedance"];
export const FILTERS = ["kind", "source", "subject", "device", "zone", "from", "to"];

/** The kind options of the form's select, in the reader's language (keeps the current choice). */
export function fillKinds(select) {
  const keep = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const k of KINDS) select.add(new Option(label("kind", k), k));
  select.value = keep;
}

/** The form's filters as query parameters; its times are wall-clock times in the console's zone. */
export function readFilters(form) {
  const out = {};
  for (const name of FILTERS) {
    const raw = (form.elements[name].value || "").trim();
    if (!raw) continue;
    out[name] = name === "from" || name === "to" ? zonedToIso(raw.length === 16 ? `${raw}:00` : raw) : raw;
  }
  return out;
}

/** GET /api/alerts parameters of a view {mode: "queue"|"legal", status, filters} (without cursor and limit). */
export function viewParams({ mode, status, filters }) {
  const p = { ...filters };
  if (mode === "legal") p.queue = "legal_review";
  else if (status) p.status = status;
  return p;
}

export function inView(a, { mode, status, filters: f }) {
  if (mode === "legal") {
    if (a.status !== "confirmed" || a.legal_review_required === false) return false;
  } else if (status && a.status !== status) return false;
  if (f.kind && a.kind !== f.kind) return false;
  if (f.source && a.source !== f.source) return false;
  if (f.subject && a.subject_code !== f.subject) return false;
  if (f.device && a.device_id !== f.device) return false;
  if (f.zone && a.zone_id !== f.zone) return false;
  const start = Date.parse(a.start_time);
  if (f.from && start < Date.parse(f.from)) return false;
  if (f.to && start >= Date.parse(f.to)) return false;
  return true;
}

/** The time zone note under the filters (their times are read in the console's zone, not the browser's). */
export function zoneNote() {
  return t("filter.tz", { tz: getTimezone() });
}
