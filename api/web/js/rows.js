// One queue row: its markup, filled from an alert row (GET /api/alerts or a stream change), and the store of
// what this browser has opened (the unread marker). Rows are made from one template and refilled in place, so
// an update costs a few text assignments and no layout of its neighbours.

import { fmtTime, label, t } from "./i18n.js";

const SEEN_KEY = "enforcegw.seen";
const SEEN_MAX = 20000;

const ROW = document.createElement("template");
ROW.innerHTML = '<li class="row" role="option" aria-selected="false"><span class="r-mark"></span>'
  + '<span class="r-code"></span><span class="r-sev"></span><span class="r-st"></span><span class="r-adm"></span>'
  + '<span class="r-meta"><span class="r-kind"></span><span class="r-device"></span><span class="r-zone"></span>'
  + '<span class="r-claim"></span></span><time class="r-time"></time></li>';

/** Clue codes this browser has opened, newest last, bounded (kept in localStorage across sign-ins). */
export class Seen {
  constructor() {
    this.codes = new Set();
    this.timer = null;
    try {
      const raw = JSON.parse(localStorage.getItem(SEEN_KEY) || "[]");
      if (Array.isArray(raw)) for (const c of raw.slice(-SEEN_MAX)) this.codes.add(String(c));
    } catch {
      // unreadable: every alert counts as unread again
    }
    // A reload or a closed tab within the save delay would lose what was just opened: save as the page goes.
    window.addEventListener("pagehide", () => {
      if (this.timer !== null) this.save();
    });
  }

  has(code) {
    return this.codes.has(code);
  }

  add(code) {
    this.codes.delete(code);
    this.codes.add(code);
    if (this.codes.size > SEEN_MAX) this.codes.delete(this.codes.values().next().value);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), 500);
  }

  save() {
    clearTimeout(this.timer);
    this.timer = null;
    try {
      localStorage.setItem(SEEN_KEY, JSON.stringify([...this.codes]));
    } catch {
      // storage full or refused: the marker lasts for this page only
    }
  }
}

/** Who holds the alert's claim now, or null (nobody, or the lease has run out). */
export function claimHolder(a, now = Date.now()) {
  if (a.status !== "in_review" || !a.claimed_by_name || !a.claim_expires_at) return null;
  return Date.parse(a.claim_expires_at) > now ? a.claimed_by_name : null;
}

/** Whether `me` holds the alert's claim now. Pages of GET /api/alerts name the holder but not their token (the
 * stream's rows have both), so without the token the name decides. */
export function heldBy(a, me, now = Date.now()) {
  if (claimHolder(a, now) === null) return false;
  return a.claimed_by_token != null ? a.claimed_by_token === me.token_id : a.claimed_by_name === me.name;
}

export function newRow(a) {
  const el = ROW.content.firstElementChild.cloneNode(true);
  el.dataset.code = a.clue_code;
  el.id = `row-${a.id}`;
  return el;
}

/** Fill `el` from alert `a`; `view` = {seen, selected, stale, me, names: {devices, zones}}. */
export function fillRow(el, a, { seen, selected, stale, me, names }) {
  const code = a.clue_code;
  el.classList.toggle("unread", !seen);
  el.classList.toggle("selected", selected);
  el.classList.toggle("stale", stale);
  el.setAttribute("aria-selected", String(selected));
  el.title = stale ? t("queue.stale", { status: label("status", a.status) }) : "";
  el.querySelector(".r-mark").title = seen ? "" : t("queue.unread");
  el.querySelector(".r-code").textContent = code;
  const sev = el.querySelector(".r-sev");
  sev.className = `r-sev sev-${a.severity}`;
  sev.textContent = label("severity", a.severity);
  const st = el.querySelector(".r-st");
  st.className = `r-st st-${a.status}`;
  st.textContent = label("status", a.status);
  const holder = claimHolder(a);
  el.querySelector(".r-claim").textContent = holder === null ? ""
    : heldBy(a, me) ? t("queue.claimed_by_me") : t("queue.claimed_by", { name: holder });
  const adm = el.querySelector(".r-adm");
  adm.className = `r-adm ${a.admissible ? "adm-yes" : "adm-no"}`;
  adm.textContent = a.admissible ? t("queue.admissible") : t("queue.inadmissible");
  adm.title = a.admissible ? "" : (a.inadmissible_reasons || []).map((r) => label("inadmissible", r))
    .join(t("list.sep"));
  el.querySelector(".r-kind").textContent = label("kind", a.kind);
  const dev = el.querySelector(".r-device");
  dev.textContent = names.devices.get(a.device_id) || a.device_id;
  dev.title = a.device_id;
  const zone = el.querySelector(".r-zone");
  zone.textContent = a.zone_id ? names.zones.get(a.zone_id) || a.zone_id : t("queue.no_zone");
  zone.title = a.zone_id || "";
  const time = el.querySelector(".r-time");
  const ft = fmtTime(a.start_time);
  time.textContent = ft.text;
  time.title = ft.title;
  time.dateTime = a.start_time;
}
