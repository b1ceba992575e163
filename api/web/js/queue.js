// The alert queue: one page of rows at a time from GET /api/alerts, kept current by the change stream. Rows are
// updated in place and new alerts inserted one by one, never by re-rendering the list, and the DOM never holds
// more than MAX_ROWS rows (the oldest are dropped and come back through "more"), so a shift of live events at
// several alerts a second keeps the page as light as at its start.

import { fmtTime, getTimezone, label, t, zonedToIso } from "./i18n.js";

export const STATUSES = ["new", "in_review", "confirmed", "dismissed", "approved", "rejected"];
// The kinds gateway/alerts/naming.py gives; a kind the gateway adds later still shows, under its code.
export const KINDS = ["construction_noise", "environmental_noise", "social_noise", "oil_fume", "dust", "air_quality",
  "water_quality", "wastewater_discharge", "sensor_exceedance"];
export const FILTERS = ["kind", "source", "subject", "device", "zone", "from", "to"];
const FIRST_PAGE = 50; // a screen and a half at 1080p: the first render waits for it
const PAGE = 100;
export const MAX_ROWS = 600;
const COUNTS_EVERY_MS = 2000;
const FLUSH_MS = 60;
const TOP_PX = 48;
const SEVERITY = { high: 3, medium: 2, low: 1 };
const SEEN_KEY = "enforcegw.seen";
const SEEN_MAX = 20000;
const UNSHOWN_MAX = 10000;
const TOP = "\u0000top"; // "page from the newest": no API cursor can be this

/** Clue codes this browser has opened (the unread marker), newest last, bounded. */
class Seen {
  constructor() {
    this.codes = new Set();
    this.timer = null;
    try {
      const raw = JSON.parse(localStorage.getItem(SEEN_KEY) || "[]");
      if (Array.isArray(raw)) for (const c of raw.slice(-SEEN_MAX)) this.codes.add(String(c));
    } catch {
      // unreadable: every alert counts as unread again
    }
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
    try {
      localStorage.setItem(SEEN_KEY, JSON.stringify([...this.codes]));
    } catch {
      // storage full or refused: the marker lasts for this page only
    }
  }
}

function claimHolder(a, now = Date.now()) {
  if (!a.claimed_by_name || !a.claim_expires_at) return null;
  return Date.parse(a.claim_expires_at) > now ? a.claimed_by_name : null;
}

function newer(incoming, known) {
  const a = Date.parse(incoming.updated_at);
  const b = Date.parse(known.updated_at);
  return Number.isNaN(a) || Number.isNaN(b) || a >= b;
}

const ROW = document.createElement("template");
ROW.innerHTML = '<li class="row" role="option" aria-selected="false"><span class="r-mark"></span>'
  + '<span class="r-code"></span><span class="r-sev"></span><span class="r-st"></span><span class="r-adm"></span>'
  + '<span class="r-meta"><span class="r-kind"></span><span class="r-device"></span><span class="r-zone"></span>'
  + '<span class="r-claim"></span></span><time class="r-time"></time></li>';

export class Queue {
  /** `names` = {devices: Map, zones: Map} of display names; `onOpen(code, alert)` shows an alert;
   * `onCounts(counts)` after each count refresh; `onError(err)` for a failed load. */
  constructor({ api, me, names, canReview, onOpen, onCounts, onError, onSelection }) {
    this.api = api;
    this.me = me;
    this.names = names || { devices: new Map(), zones: new Map() };
    this.canReview = canReview;
    this.onOpen = onOpen || (() => {});
    this.onCounts = onCounts || (() => {});
    this.onError = onError || (() => {});
    this.onSelection = onSelection || (() => {});
    this.seen = new Seen();
    this.mode = "queue";
    this.status = "";
    this.filters = {};
    this.sort = "newest";
    this.rows = new Map(); // code -> {alert, el, from}
    this.order = []; // codes in display order
    this.cursorCode = null;
    this.openCode = null;
    this.anchorCode = null;
    this.selected = new Set();
    this.next = TOP;
    this.minId = Infinity;
    this.topComplete = true; // the list's top is the newest alert of the view (no newer rows were dropped)
    this.seq = 0;
    this.loading = false;
    this.failed = null;
    this.pending = new Map();
    this.flushTimer = null;
    this.unshown = new Set();
    this.countsTimer = null;
    this.countsDirty = false;
    this.counts = null;
    this.firstPage = null;
    this.el = {
      rows: document.getElementById("rows"), tabs: document.getElementById("tabs"),
      more: document.getElementById("more"), status: document.getElementById("queue-status"),
      pill: document.getElementById("new-pill"), title: document.getElementById("queue-title"),
      bulkbar: document.getElementById("bulkbar"), bulkCount: document.getElementById("bulk-count"),
      filters: document.getElementById("filters"), filtersToggle: document.getElementById("filters-toggle"),
      filtersActive: document.getElementById("filters-active"), sort: document.getElementById("sort"),
    };
    this.bind();
    this.fillKinds();
  }

  // ---- wiring ---------------------------------------------------------------------------------------------

  bind() {
    const { rows, tabs, more, pill, filters, filtersToggle, sort } = this.el;
    // The elements outlive a sign-out; their listeners go with this queue (destroy()).
    this.unbind = new AbortController();
    const signal = this.unbind.signal;
    rows.addEventListener("click", (e) => this.onRowClick(e), { signal });
    tabs.addEventListener("click", (e) => {
      const tab = e.target.closest("[data-status]");
      if (tab && tab.dataset.status !== this.status) {
        this.status = tab.dataset.status;
        this.reload();
      }
    }, { signal });
    more.addEventListener("click", () => this.loadMore(), { signal });
    pill.addEventListener("click", () => {
      this.el.rows.scrollTop = 0;
      this.reload();
    }, { signal });
    // Older pages join the end of the list only in id order; in the other orders "more" is the button.
    rows.addEventListener("scroll", () => {
      if (this.sort === "newest" && this.next !== null
          && rows.scrollTop + rows.clientHeight > rows.scrollHeight - 200) this.loadMore();
    }, { passive: true, signal });
    filtersToggle.addEventListener("click", () => {
      filters.hidden = !filters.hidden;
      filtersToggle.setAttribute("aria-expanded", String(!filters.hidden));
    }, { signal });
    filters.addEventListener("submit", (e) => {
      e.preventDefault();
      this.readFilters();
      this.reload();
    }, { signal });
    document.getElementById("filters-clear").addEventListener("click", () => {
      filters.reset();
      this.readFilters();
      this.reload();
    }, { signal });
    sort.addEventListener("change", () => {
      this.sort = sort.value;
      this.resort();
    }, { signal });
  }

  fillKinds() {
    const select = this.el.filters.elements.kind;
    const keep = select.value;
    while (select.options.length > 1) select.remove(1);
    for (const k of KINDS) select.add(new Option(label("kind", k), k));
    select.value = keep;
  }

  readFilters() {
    const f = this.el.filters.elements;
    const out = {};
    for (const name of FILTERS) {
      const raw = (f[name].value || "").trim();
      if (!raw) continue;
      out[name] = name === "from" || name === "to" ? zonedToIso(raw.length === 16 ? `${raw}:00` : raw) : raw;
    }
    this.filters = out;
    const n = Object.keys(out).length;
    this.el.filtersActive.textContent = n ? String(n) : "";
  }

  /** Show the queue or the legal-review queue; resolves when its first page is shown. */
  setMode(mode) {
    if (mode === this.mode && this.firstPage) return this.firstPage;
    this.mode = mode;
    this.el.tabs.hidden = mode === "legal";
    return this.reload();
  }

  /** The list query of the current view (without cursor and limit). */
  params() {
    const p = { ...this.filters };
    if (this.mode === "legal") p.queue = "legal_review";
    else if (this.status) p.status = this.status;
    return p;
  }

  matches(a) {
    if (this.mode === "legal") {
      if (a.status !== "confirmed" || a.legal_review_required === false) return false;
    } else if (this.status && a.status !== this.status) return false;
    const f = this.filters;
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

  // ---- loading ----------------------------------------------------------------------------------------------

  clear() {
    this.rows.clear();
    this.order = [];
    this.el.rows.replaceChildren();
    this.selected.clear();
    this.anchorCode = null;
    this.cursorCode = null;
    this.next = TOP;
    this.minId = Infinity;
    this.topComplete = true;
    this.unshown.clear();
    this.pending.clear();
    this.failed = null;
    this.showSelection();
    this.showPill();
  }

  reload() {
    this.seq += 1;
    this.loading = false;
    this.clear();
    this.el.rows.scrollTop = 0;
    this.showTabs();
    this.refreshCounts(true);
    this.firstPage = this.loadMore();
    return this.firstPage;
  }

  async loadMore() {
    if (this.loading || this.next === null) return;
    const seq = this.seq;
    this.loading = true;
    this.failed = null;
    this.showStatus();
    try {
      let added = 0;
      // After rows were dropped the cursor points back before them: pages already shown add nothing, so read on.
      for (let guard = 0; added === 0 && this.next !== null && guard < 20; guard++) {
        const from = this.next;
        const limit = this.order.length ? PAGE : FIRST_PAGE;
        const page = await this.api.get("/api/alerts", { ...this.params(), limit,
          cursor: from === TOP ? undefined : from });
        if (seq !== this.seq) return;
        added = this.addPage(page.items, from);
        this.next = page.next || null;
      }
      this.trimNewest();
      this.showPill();
    } catch (err) {
      if (seq !== this.seq) return;
      this.failed = err;
      this.onError(err);
    } finally {
      if (seq === this.seq) {
        this.loading = false;
        this.showStatus();
      }
    }
  }

  addPage(items, from) {
    let added = 0;
    const append = this.sort === "newest";
    const frag = document.createDocumentFragment();
    for (const a of items) {
      if (this.rows.has(a.clue_code)) continue;
      const el = this.rowEl(a);
      this.rows.set(a.clue_code, { alert: a, el, from });
      if (a.id < this.minId) this.minId = a.id;
      if (append) {
        this.order.push(a.clue_code);
        frag.append(el);
      } else {
        this.insertSorted(a.clue_code);
      }
      added += 1;
    }
    if (append) this.el.rows.append(frag);
    if (this.cursorCode === null && this.order.length) this.setCursor(this.order[0], false);
    return added;
  }

  // ---- rows ------------------------------------------------------------------------------------------------

  rowEl(a) {
    const el = ROW.content.firstElementChild.cloneNode(true);
    el.dataset.code = a.clue_code;
    el.id = `row-${a.id}`;
    this.fill(el, a);
    return el;
  }

  fill(el, a) {
    const code = a.clue_code;
    el.classList.toggle("unread", !this.seen.has(code));
    el.classList.toggle("selected", this.selected.has(code));
    el.classList.toggle("stale", !this.matches(a));
    el.setAttribute("aria-selected", String(this.selected.has(code)));
    el.title = el.classList.contains("stale") ? t("queue.stale", { status: label("status", a.status) }) : "";
    el.querySelector(".r-mark").title = this.seen.has(code) ? "" : t("queue.unread");
    el.querySelector(".r-code").textContent = code;
    const sev = el.querySelector(".r-sev");
    sev.className = `r-sev sev-${a.severity}`;
    sev.textContent = label("severity", a.severity);
    const st = el.querySelector(".r-st");
    st.className = `r-st st-${a.status}`;
    st.textContent = label("status", a.status);
    const holder = a.status === "in_review" ? claimHolder(a) : null;
    const mine = holder !== null && a.claimed_by_token === this.me.token_id;
    el.querySelector(".r-claim").textContent = holder === null ? ""
      : mine ? t("queue.claimed_by_me") : t("queue.claimed_by", { name: holder });
    const adm = el.querySelector(".r-adm");
    adm.className = `r-adm ${a.admissible ? "adm-yes" : "adm-no"}`;
    adm.textContent = a.admissible ? t("queue.admissible") : t("queue.inadmissible");
    adm.title = a.admissible ? "" : (a.inadmissible_reasons || []).map((r) => label("inadmissible", r))
      .join(t("list.sep"));
    el.querySelector(".r-kind").textContent = label("kind", a.kind);
    const dev = el.querySelector(".r-device");
    dev.textContent = this.names.devices.get(a.device_id) || a.device_id;
    dev.title = a.device_id;
    const zone = el.querySelector(".r-zone");
    zone.textContent = a.zone_id ? this.names.zones.get(a.zone_id) || a.zone_id : t("queue.no_zone");
    zone.title = a.zone_id || "";
    const time = el.querySelector(".r-time");
    const ft = fmtTime(a.start_time);
    time.textContent = ft.text;
    time.title = ft.title;
    time.dateTime = a.start_time;
  }

  compare(a, b) {
    if (this.sort === "oldest") return a.id - b.id;
    if (this.sort === "severity") return (SEVERITY[b.severity] || 0) - (SEVERITY[a.severity] || 0) || b.id - a.id;
    return b.id - a.id;
  }

  /** Put a row (already in `rows`) at its place in `order` and the DOM. */
  insertSorted(code) {
    const r = this.rows.get(code);
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.compare(this.rows.get(this.order[mid]).alert, r.alert) <= 0) lo = mid + 1;
      else hi = mid;
    }
    const before = lo < this.order.length ? this.rows.get(this.order[lo]).el : null;
    this.order.splice(lo, 0, code);
    this.el.rows.insertBefore(r.el, before);
  }

  remove(code) {
    const r = this.rows.get(code);
    if (!r) return;
    r.el.remove();
    this.rows.delete(code);
    const i = this.order.indexOf(code);
    if (i >= 0) this.order.splice(i, 1);
    this.selected.delete(code);
  }

  resort() {
    const list = [...this.rows.values()].sort((x, y) => this.compare(x.alert, y.alert));
    this.order = list.map((r) => r.alert.clue_code);
    const frag = document.createDocumentFragment();
    for (const r of list) frag.append(r.el);
    this.el.rows.append(frag);
    this.el.rows.scrollTop = 0;
    if (this.order.length) this.setCursor(this.order[0], false);
  }

  relabel() {
    this.fillKinds();
    for (const r of this.rows.values()) this.fill(r.el, r.alert);
    this.showTabs();
    this.showStatus();
    this.showSelection();
    this.showPill();
  }

  /** Rows over the cap, `newest` or oldest first, never the open, focused or selected ones. */
  excess(newest) {
    const n = this.rows.size - MAX_ROWS;
    if (n <= 0) return [];
    const byId = [...this.rows.values()].sort((x, y) => (newest ? y.alert.id - x.alert.id : x.alert.id - y.alert.id));
    const keep = (code) => code === this.openCode || code === this.cursorCode || this.selected.has(code);
    return byId.filter((r) => !keep(r.alert.clue_code)).slice(0, n);
  }

  /** Live rows arrived at the top: drop the oldest over the cap; "more" brings them back. */
  trim() {
    const drop = this.excess(false);
    for (const r of drop) this.remove(r.alert.clue_code);
    if (drop.length) {
      this.next = drop[drop.length - 1].from;
      this.minId = Math.min(...[...this.rows.values()].map((r) => r.alert.id), Infinity);
    }
  }

  /** Older pages were read: drop the newest over the cap; the top is then no longer the newest (the pill says
   * so and reloads from it). */
  trimNewest() {
    const drop = this.excess(true);
    for (const r of drop) this.remove(r.alert.clue_code);
    if (drop.length) this.topComplete = false;
  }

  // ---- live changes ----------------------------------------------------------------------------------------

  /** A change from the stream ({type, data: {clue_code, alert}}); applied in batches. */
  apply(change) {
    const a = change && change.data && change.data.alert;
    if (!a || !a.clue_code) return;
    this.pending.set(a.clue_code, a);
    if (this.flushTimer === null) this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
    this.refreshCounts();
  }

  /** Fetch the top of the current view again and merge it as if streamed (rows changed before the stream began). */
  async catchUp() {
    const seq = this.seq;
    try {
      await this.firstPage; // not beside it: both would wait on the same gateway
      if (seq !== this.seq) return;
      const page = await this.api.get("/api/alerts", { ...this.params(), limit: FIRST_PAGE });
      if (seq !== this.seq) return;
      for (const a of page.items) this.pending.set(a.clue_code, a);
      if (this.flushTimer === null) this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
    } catch {
      // the stream carries what follows; a row that changed just before it shows its change on the next event
    }
  }

  flush() {
    this.flushTimer = null;
    const batch = [...this.pending.values()];
    this.pending.clear();
    const atTop = this.el.rows.scrollTop < TOP_PX;
    for (const a of batch) {
      const r = this.rows.get(a.clue_code);
      if (r) {
        this.update(r, a);
        continue;
      }
      if (!this.matches(a)) continue;
      // Older than every row loaded while more pages follow: it shows when paging reaches it.
      if (this.next !== null && a.id < this.minId) continue;
      if (!atTop || !this.topComplete || this.sort === "oldest") {
        if (this.unshown.size < UNSHOWN_MAX) this.unshown.add(a.clue_code);
        continue;
      }
      const el = this.rowEl(a);
      el.classList.add("arrived");
      this.rows.set(a.clue_code, { alert: a, el, from: TOP });
      this.insertSorted(a.clue_code);
      if (this.order.length === 1) this.setCursor(a.clue_code, false);
    }
    if (atTop) this.trim();
    this.showPill();
    this.showStatus();
  }

  update(r, a) {
    if (!newer(a, r.alert)) return;
    const moved = this.sort === "severity" && a.severity !== r.alert.severity;
    r.alert = a;
    this.fill(r.el, a);
    if (moved) {
      const i = this.order.indexOf(a.clue_code);
      this.order.splice(i, 1);
      this.insertSorted(a.clue_code);
    }
  }

  /** An alert as a decision's answer left it: shown at once, before its change arrives on the stream. */
  updateAlert(a) {
    const r = this.rows.get(a.clue_code);
    if (r) this.update(r, a);
    this.refreshCounts();
  }

  // ---- counts, status line -----------------------------------------------------------------------------------

  refreshCounts(now = false) {
    if (now) {
      clearTimeout(this.countsTimer);
      this.countsTimer = null;
    }
    if (this.countsTimer !== null) {
      this.countsDirty = true;
      return;
    }
    this.countsDirty = false;
    this.fetchCounts();
    this.countsTimer = setTimeout(() => {
      this.countsTimer = null;
      if (this.countsDirty) this.refreshCounts();
    }, COUNTS_EVERY_MS);
  }

  async fetchCounts() {
    const seq = this.seq;
    try {
      const c = await this.api.get("/api/alerts/counts", this.filters);
      if (seq !== this.seq) return;
      this.counts = c;
      this.showTabs();
      this.showStatus();
      this.onCounts(c);
    } catch {
      // the tabs keep their last figures; the list and the live state say what is wrong
    }
  }

  showTabs() {
    const c = this.counts;
    for (const tab of this.el.tabs.querySelectorAll("[data-status]")) {
      const s = tab.dataset.status;
      const active = s === this.status;
      tab.classList.toggle("active", active);
      tab.setAttribute("aria-selected", String(active));
      tab.querySelector(".count").textContent = c && s ? String(c.by_status[s] ?? 0) : "";
    }
    const legal = this.mode === "legal";
    const n = c ? (legal ? c.queues.legal_review : c.total) : "…";
    this.el.title.textContent = t(legal ? "queue.title_legal" : "queue.title", { count: n });
  }

  total() {
    const c = this.counts;
    if (!c) return null;
    if (this.mode === "legal") return c.queues.legal_review;
    return this.status ? c.by_status[this.status] ?? 0 : c.total;
  }

  showStatus() {
    const { status, more } = this.el;
    const total = this.total();
    if (this.failed) status.textContent = t("queue.load_failed");
    else if (this.loading) status.textContent = t("queue.loading");
    else if (!this.order.length) status.textContent = t(this.mode === "legal" ? "queue.empty_legal" : "queue.empty");
    else status.textContent = t("queue.shown", { shown: this.order.length, total: total ?? "…" });
    more.hidden = this.next === null || this.loading;
    this.el.rows.classList.toggle("empty", !this.order.length && !this.loading);
  }

  showPill() {
    const n = this.unshown.size;
    this.el.pill.hidden = n === 0 && this.topComplete;
    this.el.pill.textContent = n ? t("queue.new_pill", { count: n >= UNSHOWN_MAX ? `${UNSHOWN_MAX}+` : n })
      : this.topComplete ? "" : t("queue.newest_pill");
  }

  // ---- cursor, opening, selection --------------------------------------------------------------------------

  setCursor(code, scroll = true) {
    const prev = this.cursorCode && this.rows.get(this.cursorCode);
    if (prev) prev.el.classList.remove("cursor");
    this.cursorCode = code;
    const r = code && this.rows.get(code);
    if (!r) return;
    r.el.classList.add("cursor");
    this.el.rows.setAttribute("aria-activedescendant", r.el.id);
    if (scroll) r.el.scrollIntoView({ block: "nearest" });
  }

  move(delta) {
    if (!this.order.length) return;
    let i = this.order.indexOf(this.cursorCode);
    i = i < 0 ? (delta > 0 ? 0 : this.order.length - 1) : Math.max(0, Math.min(this.order.length - 1, i + delta));
    this.setCursor(this.order[i]);
    if (this.sort === "newest" && i >= this.order.length - 5) this.loadMore();
  }

  current() {
    const r = this.cursorCode && this.rows.get(this.cursorCode);
    return r ? r.alert : null;
  }

  alert(code) {
    const r = this.rows.get(code);
    return r ? r.alert : null;
  }

  /** Mark `code` as the one shown in the detail pane (and as read). */
  markOpen(code) {
    const prev = this.openCode && this.rows.get(this.openCode);
    if (prev) prev.el.classList.remove("open");
    this.openCode = code;
    if (!code) return;
    this.seen.add(code);
    const r = this.rows.get(code);
    if (r) {
      r.el.classList.add("open");
      r.el.classList.remove("unread");
      r.el.querySelector(".r-mark").title = "";
    }
  }

  onRowClick(e) {
    const li = e.target.closest("li.row");
    if (!li) return;
    const code = li.dataset.code;
    if (this.canReview && (e.ctrlKey || e.metaKey || e.target.closest(".r-mark"))) {
      this.toggleSelect(code);
      this.setCursor(code, false);
      return;
    }
    if (this.canReview && e.shiftKey) {
      this.selectRange(this.anchorCode || this.cursorCode || code, code);
      this.setCursor(code, false);
      return;
    }
    this.setCursor(code, false);
    this.onOpen(code, this.alert(code));
  }

  toggleSelect(code = this.cursorCode) {
    if (!code || !this.rows.has(code)) return;
    if (this.selected.has(code)) this.selected.delete(code);
    else this.selected.add(code);
    this.anchorCode = code;
    this.markSelected(code);
    this.showSelection();
  }

  selectRange(from, to) {
    let i = this.order.indexOf(from);
    let j = this.order.indexOf(to);
    if (i < 0) i = j;
    if (i > j) [i, j] = [j, i];
    for (const code of this.order.slice(i, j + 1)) {
      this.selected.add(code);
      this.markSelected(code);
    }
    this.showSelection();
  }

  markSelected(code) {
    const r = this.rows.get(code);
    if (!r) return;
    const on = this.selected.has(code);
    r.el.classList.toggle("selected", on);
    r.el.setAttribute("aria-selected", String(on));
  }

  clearSelection() {
    const codes = [...this.selected];
    this.selected.clear();
    for (const c of codes) this.markSelected(c);
    this.showSelection();
  }

  selectedAlerts() {
    return [...this.selected].map((c) => this.alert(c)).filter(Boolean);
  }

  showSelection() {
    const n = this.selected.size;
    this.el.bulkbar.hidden = n === 0;
    this.el.bulkCount.textContent = t("bulk.count", { count: n });
    this.onSelection(n);
  }

  destroy() {
    this.seq += 1;
    this.unbind.abort();
    this.el.filters.reset();
    this.el.filtersActive.textContent = "";
    this.el.sort.value = "newest";
    clearTimeout(this.flushTimer);
    clearTimeout(this.countsTimer);
    this.seen.save();
    this.clear();
  }
}

/** The time zone note under the filters (their times are read in the console's zone, not the browser's). */
export function zoneNote() {
  return t("filter.tz", { tz: getTimezone() });
}

/** Dismiss each alert with one reason: claim, then dismiss; a dismissal refused after the claim gives the
 * claim back. Resolves to one result per alert: {code, ok, step, error}. */
export async function dismissMany(api, alerts, { reason, text }, onProgress = () => {}, parallel = 3) {
  const results = [];
  const queue = [...alerts];
  let done = 0;
  const one = async (a) => {
    const code = a.clue_code;
    const path = `/api/alerts/${encodeURIComponent(code)}`;
    try {
      await api.post(`${path}/claim`);
    } catch (error) {
      return { code, ok: false, step: "claim", error };
    }
    try {
      const out = await api.post(`${path}/dismiss`, text ? { reason, text } : { reason });
      return { code, ok: true, alert: out && out.alert };
    } catch (error) {
      try {
        await api.post(`${path}/release`);
      } catch {
        // the lease runs out by itself
      }
      return { code, ok: false, step: "dismiss", error };
    }
  };
  const worker = async () => {
    while (queue.length) {
      const a = queue.shift();
      const r = await one(a);
      results.push(r);
      done += 1;
      onProgress(done, alerts.length, r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, alerts.length) }, worker));
  const rank = new Map(alerts.map((a, i) => [a.clue_code, i]));
  return results.sort((x, y) => rank.get(x.code) - rank.get(y.code));
}
