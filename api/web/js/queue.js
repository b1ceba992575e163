// The alert queue: one page of rows at a time from GET /api/alerts, kept current by the change stream. Rows are
// updated in place and new alerts inserted one by one, never by re-rendering the list, and the DOM never holds
// more than MAX_ROWS rows (the oldest are dropped and come back through "more"), so a shift of live events at
// several alerts a second keeps the page as light as at its start.

import { fillKinds, inView, readFilters, viewParams } from "./filters.js";
import { t } from "./i18n.js";
import { Seen, fillRow, newRow } from "./rows.js";

const FIRST_PAGE = 50; // a screen and a half at 1080p: the first render waits for it
const PAGE = 100;
export const MAX_ROWS = 600;
const COUNTS_EVERY_MS = 2000;
const FLUSH_MS = 60;
const TOP_PX = 48;
const SEVERITY = { high: 3, medium: 2, low: 1 };
const UNSHOWN_MAX = 10000;
const TOP = "\u0000top"; // "page from the newest": no API cursor can be this

function newer(incoming, known) {
  const a = Date.parse(incoming.updated_at);
  const b = Date.parse(known.updated_at);
  return Number.isNaN(a) || Number.isNaN(b) || a >= b;
}

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
    fillKinds(this.el.filters.elements.kind);
  }

  readFilters() {
    this.filters = readFilters(this.el.filters);
    const n = Object.keys(this.filters).length;
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
    return viewParams(this);
  }

  matches(a) {
    return inView(a, this);
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
    const el = newRow(a);
    this.fill(el, a);
    return el;
  }

  fill(el, a) {
    fillRow(el, a, { seen: this.seen.has(a.clue_code), selected: this.selected.has(a.clue_code),
      stale: !this.matches(a), me: this.me, names: this.names });
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
