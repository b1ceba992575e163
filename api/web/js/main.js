// The console page: sign-in, the top bar and navigation, the queue with its live stream, the keyboard, and the
// detail and tasks panes (js/detail.js and js/tasks.js, loaded on first use so the shell works without them).
// What a role may do decides what is shown; the server still decides what is allowed, and its refusals are
// put into words (refusalText) rather than status codes.

import { ApiError, api, refusalText } from "./api.js";
import { applyI18n, chosenLang, fmtTime, label, lang, loadMessages, setLang, setTimezone, t, timeEl } from "./i18n.js";
import { bindKeys } from "./keys.js";
import { dismissMany } from "./bulk.js";
import { bulkResultDialog, closeDialog, dialogOpen, el, overlayOpen, reasonDialog, showHelp, toast } from "./dialogs.js";
import { zoneNote } from "./filters.js";
import { Queue } from "./queue.js";
import { heldBy } from "./rows.js";

const REVIEWERS = new Set(["operator", "supervisor"]);
const QUEUE_READERS = new Set(["operator", "supervisor", "auditor"]);
const $ = (id) => document.getElementById(id);

const state = {
  config: { timezone: "Asia/Shanghai", default_language: "zh", tile_url: null, tile_crs: "wgs84" },
  me: null, queue: null, stream: null, unbindKeys: null, view: null,
  detail: null, detailSeq: 0, detailCode: null, tasks: null, modules: {}, reasons: null,
  names: { devices: new Map(), zones: new Map() },
};

const canReview = () => !!state.me && REVIEWERS.has(state.me.role);

// ---- optional modules of the other panes --------------------------------------------------------------------

function optional(name) {
  if (!(name in state.modules)) {
    state.modules[name] = import(`./${name}.js`).catch((exc) => {
      console.warn(`js/${name}.js did not load`, exc);
      return null;
    });
  }
  return state.modules[name];
}

function ctx() {
  return { api, me: state.me, t, fmtTime, timeEl, refusalText, config: state.config, onChanged };
}

async function reviewReasons() {
  if (!state.reasons) state.reasons = api.get("/api/review/reasons").catch((e) => {
    state.reasons = null;
    throw e;
  });
  return state.reasons;
}

/** The dismiss reason picker: W2's when js/detail.js has one, else this plain one (digits pick a reason). */
async function pickDismissReason(count = 1) {
  const detail = await optional("detail");
  if (detail && typeof detail.pickDismissReason === "function") return detail.pickDismissReason(ctx());
  let reasons;
  try {
    reasons = (await reviewReasons()).dismiss_reasons;
  } catch (err) {
    toast(refusalText(err), "error");
    return null;
  }
  return reasonDialog(reasons, count);
}

// ---- review actions -----------------------------------------------------------------------------------------

async function post(code, action, body) {
  const detail = await optional("detail");
  if (detail && typeof detail.decide === "function") return detail.decide(code, action, body, ctx());
  return api.post(`/api/alerts/${encodeURIComponent(code)}/${action}`, body);
}

/** Claim `code` unless this reviewer holds it already; throws the refusal. */
async function ensureClaim(code) {
  const a = state.queue && state.queue.alert(code);
  if (a && heldBy(a, state.me)) return a;
  const out = await post(code, "claim");
  if (out && out.alert) state.queue.updateAlert(out.alert);
  return out && out.alert;
}

async function decideOpen(action) {
  if (!canReview()) return toast(t("error.read_only"), "error");
  const code = state.detailCode;
  if (!code) return toast(t("keys.open_first"), "info");
  let body = {};
  if (action === "dismiss") {
    body = await pickDismissReason(1);
    if (!body) return;
  }
  try {
    await ensureClaim(code);
    const out = await post(code, action, body);
    if (out && out.alert) state.queue.updateAlert(out.alert);
    toast(t(action === "confirm" ? "act.confirmed" : "act.dismissed", { code }), "ok");
    state.queue.move(1);
    await refreshDetail(code);
  } catch (err) {
    toast(refusalText(err), "error");
    refreshDetail(code); // the claim before a refused decision may have changed what the pane shows
  }
}

async function openAlert(code, { claim = false } = {}) {
  if (!code) return;
  state.queue.markOpen(code);
  const a = state.queue.alert(code);
  if (claim && canReview() && a && (a.status === "new" || a.status === "in_review")) {
    try {
      await ensureClaim(code);
    } catch (err) {
      toast(refusalText(err), "error");
    }
  }
  await showDetail(code);
}

async function bulkDismiss() {
  const q = state.queue;
  const alerts = q.selectedAlerts();
  if (!alerts.length || !canReview()) return;
  const choice = await pickDismissReason(alerts.length);
  if (!choice) return;
  const progress = toast(t("bulk.progress", { done: 0, total: alerts.length }), "info", 600000);
  const results = await dismissMany(api, alerts, choice, (done, total) => {
    progress.firstChild.textContent = t("bulk.progress", { done, total });
  });
  progress.remove();
  for (const r of results) {
    if (r.ok) {
      if (r.alert) q.updateAlert(r.alert);
      q.selected.delete(r.code);
      q.markSelected(r.code);
    }
  }
  q.showSelection();
  const refused = results.filter((r) => !r.ok);
  const ok = results.length - refused.length;
  if (!refused.length) return toast(t("bulk.done", { count: ok }), "ok");
  await bulkResultDialog(ok, refused);
}

function onChanged(code) {
  if (state.queue) state.queue.refreshCounts();
  if (code === state.detailCode) $("detail-notice").hidden = true;
}

// ---- detail and tasks panes -----------------------------------------------------------------------------------

function destroyDetail() {
  if (state.detail && typeof state.detail.destroy === "function") {
    try {
      state.detail.destroy();
    } catch (exc) {
      console.error(exc);
    }
  }
  state.detail = null;
}

function emptyDetail() {
  destroyDetail();
  state.detailCode = null;
  const box = $("detail");
  box.replaceChildren(el("div", { class: "detail-empty" }, el("p", { text: t("pane.empty") }),
    el("p", { class: "muted", text: t(canReview() ? "pane.empty_keys" : "pane.empty_keys_readonly") })));
}

async function showDetail(code) {
  const seq = ++state.detailSeq;
  state.detailCode = code;
  $("detail-notice").hidden = true;
  const box = $("detail");
  const detail = await optional("detail");
  if (seq !== state.detailSeq) return;
  destroyDetail();
  box.replaceChildren();
  if (!detail || typeof detail.renderDetail !== "function") {
    box.append(placeholderDetail(code));
    return;
  }
  try {
    const handle = await detail.renderDetail(box, code, ctx());
    if (seq !== state.detailSeq) {
      if (handle && handle.destroy) handle.destroy();
      return;
    }
    state.detail = handle;
  } catch (err) {
    if (seq === state.detailSeq) box.replaceChildren(el("p", { class: "form-error", text: refusalText(err) }));
  }
}

/** Show `code` again with what the store has now (the detail's own refresh keeps its scroll and parts). */
async function refreshDetail(code) {
  if (code !== state.detailCode) return;
  $("detail-notice").hidden = true;
  if (state.detail && typeof state.detail.refresh === "function") {
    try {
      await state.detail.refresh();
      return;
    } catch (exc) {
      console.error(exc);
    }
  }
  await showDetail(code);
}

function placeholderDetail(code) {
  const a = state.queue && state.queue.alert(code);
  const wrap = el("div", { class: "detail-placeholder" }, el("h2", { text: code }),
    el("p", { class: "muted", text: t("pane.unavailable") }));
  if (a) {
    wrap.append(el("p", { text: t("pane.summary", { kind: label("kind", a.kind), device: a.device_id,
      time: fmtTime(a.start_time).text }) }));
  }
  if (canReview()) {
    const bar = el("div", { class: "dialog-buttons" });
    for (const [action, key] of [["claim", "act.claim"], ["confirm", "act.confirm"], ["dismiss", "act.dismiss"]]) {
      const b = el("button", { type: "button", class: action === "dismiss" ? "danger" : "ghost", text: t(key) });
      b.addEventListener("click", () => (action === "claim"
        ? ensureClaim(code).then(() => refreshDetail(code), (e) => toast(refusalText(e), "error"))
        : decideOpen(action)));
      bar.append(b);
    }
    wrap.append(bar);
  }
  return wrap;
}

async function showTasks() {
  const box = $("tasks");
  if (state.tasks && state.tasks.destroy) state.tasks.destroy();
  state.tasks = null;
  box.replaceChildren();
  const tasks = await optional("tasks");
  if (!tasks || typeof tasks.renderTasks !== "function") {
    box.append(el("div", { class: "detail-placeholder" }, el("h2", { text: t("nav.tasks") }),
      el("p", { class: "muted", text: t("tasks.unavailable") })));
    return;
  }
  try {
    state.tasks = (await tasks.renderTasks(box, ctx())) || null;
  } catch (err) {
    box.append(el("p", { class: "form-error", text: refusalText(err) }));
  }
}

// ---- views and navigation ----------------------------------------------------------------------------------

function allowedViews() {
  const role = state.me.role;
  const views = [];
  if (QUEUE_READERS.has(role)) views.push("queue");
  if (role === "supervisor") views.push("legal");
  views.push("tasks");
  return views;
}

function route() {
  const views = allowedViews();
  const want = window.location.hash.replace("#", "");
  const view = views.includes(want) ? want : views[0];
  if (view === state.view) return null;
  state.view = view;
  for (const a of document.querySelectorAll(".sidenav [data-view]")) {
    a.classList.toggle("active", a.dataset.view === view);
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const queueView = view === "queue" || view === "legal";
  $("queue").hidden = !queueView;
  document.querySelector(".detail-col").hidden = !queueView;
  $("tasks").hidden = queueView;
  document.querySelector(".workspace").dataset.view = queueView ? "queue" : "tasks";
  if (!queueView) return showTasks();
  // keys go to the list, not to the navigation link just clicked (Enter there would follow it again)
  $("rows").focus({ preventScroll: true });
  return state.queue.setMode(view === "legal" ? "legal" : "queue");
}

function showCounts(c) {
  $("nav-count-queue").textContent = c.by_status.new ? String(c.by_status.new) : "";
  $("nav-count-legal").textContent = c.queues.legal_review ? String(c.queues.legal_review) : "";
}

function setLive(s) {
  const live = $("live");
  live.dataset.state = s;
  $("live-text").textContent = t(`live.${s}`);
}

async function loadNames() {
  const [zones, devices] = await Promise.allSettled([api.get("/api/zones"), api.get("/api/public/devices")]);
  const zl = $("dl-zones");
  const dl = $("dl-devices");
  if (zones.status === "fulfilled") {
    for (const f of zones.value.features || []) {
      const p = f.properties || {};
      state.names.zones.set(p.id, p.name || p.id);
      zl.append(new Option(p.name || p.id, p.id));
    }
  }
  if (devices.status === "fulfilled") {
    for (const d of devices.value.devices || []) {
      state.names.devices.set(d.id, d.name || d.id);
      dl.append(new Option(d.name || d.id, d.id));
    }
  }
  if (state.queue) state.queue.relabel();
}

/** Follow the change stream from now on. The first page of the queue loads at the same time, so whatever
 * changed between that page's query and the stream's start is fetched again once the stream is live. */
function startStream() {
  let caughtUp = false;
  state.stream = api.stream(null, (ev) => {
    state.queue.apply(ev);
    const a = ev.data && ev.data.alert;
    if (a && a.clue_code === state.detailCode) {
      const by = a.review && a.review.reviewer;
      if (by && by.token_id === state.me.token_id) return;
      $("detail-notice-text").textContent = by ? t("pane.changed_by", { name: by.name })
        : t(`pane.changed_${ev.type}`);
      $("detail-notice").hidden = false;
    }
  }, (s) => {
    setLive(s);
    if (s === "live" && !caughtUp) {
      caughtUp = true;
      state.queue.catchUp();
    }
  });
}

const keyHandlers = {
  down: () => state.queue && state.queue.move(1),
  up: () => state.queue && state.queue.move(-1),
  open: () => state.queue && openAlert(state.queue.cursorCode, { claim: true }),
  confirm: () => decideOpen("confirm"),
  dismiss: () => decideOpen("dismiss"),
  select: () => (canReview() ? state.queue && state.queue.toggleSelect() : toast(t("error.read_only"), "error")),
  help: () => showHelp(),
  escape: () => {
    if (!$("overlay-help").hidden) $("overlay-help").hidden = true;
    else if (dialogOpen()) closeDialog(null);
    else if (state.queue && state.queue.selected.size) state.queue.clearSelection();
  },
};

async function startApp(me) {
  state.me = me;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me-role").textContent = t(`role.${me.role}`);
  $("me-name").textContent = me.name;
  $("role-note").textContent = t(`role.note.${me.role}`);
  $("app").dataset.role = me.role;
  for (const a of document.querySelectorAll(".sidenav [data-roles]")) {
    a.hidden = !a.dataset.roles.split(" ").includes(me.role);
  }
  const readsQueue = QUEUE_READERS.has(me.role);
  for (const id of ["help-btn", "live"]) $(id).hidden = !readsQueue;
  document.querySelector(".nav-hint").hidden = !readsQueue;
  if (readsQueue) {
    state.queue = new Queue({ api, me, names: state.names, canReview: canReview(),
      onOpen: (code) => openAlert(code), onCounts: showCounts, onError: (err) => toast(refusalText(err), "error") });
    $("filters").querySelector(".filter-buttons").before(el("p", { class: "filter-tz muted", id: "filter-tz",
      text: zoneNote() }));
    emptyDetail();
    state.unbindKeys = bindKeys(keyHandlers, () => overlayOpen() || state.view === "tasks");
    setLive("connecting");
    startStream();
  }
  window.addEventListener("hashchange", route);
  const shown = route();
  // names only dress the rows (device and zone names for ids): after the first page, not competing with it
  if (readsQueue) Promise.resolve(shown).finally(loadNames);
}

function stopApp() {
  window.removeEventListener("hashchange", route);
  if (state.stream) state.stream.close();
  if (state.unbindKeys) state.unbindKeys();
  destroyDetail();
  if (state.tasks && state.tasks.destroy) state.tasks.destroy();
  if (state.queue) state.queue.destroy();
  const tz = $("filter-tz");
  if (tz) tz.remove();
  const toasts = $("toasts");  // the next person at this screen must not read what the last one did
  if (toasts) toasts.replaceChildren();
  Object.assign(state, { me: null, queue: null, stream: null, unbindKeys: null, view: null, detail: null,
    detailCode: null, tasks: null, reasons: null });
  $("app").hidden = true;
}

// ---- sign-in -------------------------------------------------------------------------------------------------

function showSignIn(message = "") {
  $("signin").hidden = false;
  $("app").hidden = true;
  const err = $("signin-error");
  err.textContent = message;
  err.hidden = !message;
  $("signin-token").value = "";
  $("signin-token").focus();
}

function signInRefusal(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return t("signin.unknown");
    if (err.status === 403) return t("signin.device");
  }
  return refusalText(err);
}

async function enter({ me, err }) {
  if (me) return startApp(me);
  api.signOut();
  showSignIn(signInRefusal(err));
}

async function trySignIn(token) {
  api.signIn(token);
  await enter(await api.get("/api/me").then((me) => ({ me }), (err) => ({ err })));
}

function bindShell() {
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = $("signin-token").value.trim();
    if (token) trySignIn(token);
  });
  $("signout").addEventListener("click", () => {
    stopApp();
    api.signOut();
    showSignIn();
  });
  window.addEventListener("enforcegw:unauthorized", () => {
    if (!state.me) return;
    stopApp();
    api.signOut();
    showSignIn(t("signin.expired"));
  });
  for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => setLang(b.dataset.lang));
  window.addEventListener("langchange", relabel);
  $("help-btn").addEventListener("click", showHelp);
  for (const o of [$("overlay-help"), $("overlay-dialog")]) {
    o.addEventListener("click", (e) => {
      if (e.target === o || e.target.closest("[data-close]")) {
        if (o.id === "overlay-dialog") closeDialog(null);
        else o.hidden = true;
      }
    });
  }
  $("bulk-dismiss").addEventListener("click", bulkDismiss);
  $("bulk-clear").addEventListener("click", () => state.queue && state.queue.clearSelection());
  $("detail-notice-reload").addEventListener("click", () => state.detailCode && refreshDetail(state.detailCode));
}

function relabel() {
  applyI18n(document);
  for (const b of document.querySelectorAll("[data-lang]")) b.classList.toggle("active", b.dataset.lang === lang());
  if (!state.me) return;
  $("me-role").textContent = t(`role.${state.me.role}`);
  $("role-note").textContent = t(`role.note.${state.me.role}`);
  setLive($("live").dataset.state);
  if (state.queue) {
    state.queue.relabel();
    const tz = $("filter-tz");
    if (tz) tz.textContent = zoneNote();
  }
  if (state.view === "tasks") showTasks();
  else if (state.detailCode) showDetail(state.detailCode);
  else if (state.queue) emptyDetail();
}

async function boot() {
  // The token's check, the settings and the messages load side by side: each is a round trip to the gateway.
  const token = api.token();
  const meReq = token ? api.get("/api/me").then((me) => ({ me }), (err) => ({ err })) : null;
  const configReq = fetch("/api/console/config", { cache: "no-store" })
    .then((r) => (r.ok ? r.json() : null), () => null);
  const chosen = chosenLang();
  const messagesReq = loadMessages(chosen || "zh");
  const config = await configReq;
  if (config) state.config = config;
  setTimezone(state.config.timezone || "Asia/Shanghai");
  await messagesReq;
  const want = chosen || state.config.default_language || "zh";
  if (want !== lang()) await loadMessages(want);
  bindShell();
  relabel();
  $("boot").remove();
  if (meReq) await enter(await meReq);
  else showSignIn();
}

boot();
