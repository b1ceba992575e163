// Case tasks as operations watch them: each task's delivery to every case system (a badge per system), the
// receiver's case number once it acknowledged, every attempt on demand, a supervisor's retry of failed
// deliveries; and the case systems (one a 410 disabled, and why; enabling it again).

import { h, tr } from "./detail_ui.js";

const STATES = ["pending", "delivering", "delivered", "acknowledged", "push_failed", "disabled", "unrouted"];
const SYSTEM_READERS = new Set(["supervisor", "auditor", "admin"]);
const SYSTEM_ENABLERS = new Set(["supervisor", "admin"]);
const REFRESH_MS = 15_000;
const WAITING = new Set(["pending", "delivering"]); // states in which a next attempt is due

function stateBadge(ctx, state) {
  return h("span", { class: `dt-badge dt-badge-task-${state}`, dataset: { state } }, tr(ctx, `tasks.state.${state}`, {}, state));
}

function time(ctx, iso) {
  return iso ? ctx.timeEl(iso) : h("span", { class: "dt-muted" }, "—");
}

function attemptsTable(ctx, delivery) {
  const log = delivery.attempt_log || [];
  if (!log.length) return h("p", { class: "dt-muted" }, ctx.t("tasks.no_attempts"));
  return h("table", { class: "dt-table dt-attempts" },
    h("thead", {}, h("tr", {}, ["n", "time", "status", "latency", "error"].map((c) => h("th", {}, ctx.t(`tasks.attempt_${c}`))))),
    h("tbody", {}, log.map((a) => h("tr", { class: a.error || (a.status && a.status >= 400) ? "dt-failed" : "" },
      h("td", {}, String(a.n)),
      h("td", {}, ctx.timeEl(a.started_at)),
      h("td", {}, a.status == null ? "—" : String(a.status)),
      h("td", {}, a.latency_ms == null ? "—" : `${Math.round(a.latency_ms)} ms`),
      h("td", { class: "dt-why" }, a.error || "", a.retry_after_s != null
        ? ` ${ctx.t("tasks.retry_after", { s: a.retry_after_s })}` : "")))));
}

function deliveryDetail(ctx, d) {
  return h("section", { class: "dt-delivery", dataset: { system: d.system } },
    h("h4", {}, d.system, " ", stateBadge(ctx, d.state)),
    h("dl", {},
      h("dt", {}, ctx.t("tasks.receiver_ref")), h("dd", {}, d.receiver_ref || h("span", { class: "dt-muted" }, "—")),
      h("dt", {}, ctx.t("tasks.webhook_id")), h("dd", {}, h("code", {}, d.webhook_id)),
      h("dt", {}, ctx.t("tasks.delivered_at")), h("dd", {}, time(ctx, d.delivered_at)),
      h("dt", {}, ctx.t("tasks.acknowledged_at")), h("dd", {}, time(ctx, d.acknowledged_at)),
      d.next_attempt_at && WAITING.has(d.state)
        ? [h("dt", {}, ctx.t("tasks.next_attempt")), h("dd", {}, ctx.timeEl(d.next_attempt_at))] : null,
      d.last_error ? [h("dt", {}, ctx.t("tasks.last_error")), h("dd", { class: "dt-why" }, d.last_error)] : null),
    attemptsTable(ctx, d));
}

/** Render the tasks view into `el`; returns {destroy(), refresh()}. */
export async function renderTasks(el, ctx) {
  const role = ctx.me && ctx.me.role;
  const open = new Set(); // task ids whose attempts are shown
  let state = "";
  let cursor = null;
  let items = [];
  let timer = null;
  let paged = false; // more pages appended: a periodic refresh would drop them
  let destroyed = false;
  let generation = 0;

  const message = h("p", { class: "dt-message", role: "status", "aria-live": "polite" });
  const filter = h("select", { "aria-label": ctx.t("tasks.filter_state") },
    h("option", { value: "" }, ctx.t("tasks.all_states")),
    STATES.map((s) => h("option", { value: s }, tr(ctx, `tasks.state.${s}`, {}, s))));
  const updated = h("span", { class: "dt-muted dt-updated" });
  const body = h("tbody");
  const more = h("button", { type: "button", class: "dt-btn", hidden: true }, ctx.t("tasks.more"));
  const systems = h("div", { class: "dt-systems" });
  const root = h("article", { class: "dt dt-tasks" },
    h("header", { class: "dt-head" }, h("div", { class: "dt-title" }, h("h2", {}, ctx.t("tasks.title"))),
      h("div", { class: "dt-toolbar" }, h("label", {}, ctx.t("tasks.filter_state"), " ", filter),
        h("button", { type: "button", class: "dt-btn", onclick: () => refresh() }, ctx.t("tasks.refresh")), updated)),
    message,
    h("table", { class: "dt-table dt-task-table" },
      h("thead", {}, h("tr", {}, ["created", "task", "clue", "subject", "deliveries", "actions"]
        .map((c) => h("th", {}, ctx.t(`tasks.col_${c}`))))),
      body),
    more,
    SYSTEM_READERS.has(role) ? h("section", { class: "dt-section" }, h("h3", {}, ctx.t("tasks.systems")), systems) : null);
  el.replaceChildren(root);

  const say = (text, refused = false) => {
    message.textContent = text;
    message.classList.toggle("dt-refused", refused);
  };

  async function retry(task, button) {
    button.disabled = true;
    try {
      const out = await ctx.api.post(`/api/tasks/${encodeURIComponent(task.task_id)}/retry`, {});
      say(ctx.t("tasks.retried", { task: task.task_id, systems: out.systems.join(", ") }));
      await refresh();
    } catch (err) {
      say(ctx.refusalText(err), true);
      button.disabled = false;
    }
  }

  function row(task) {
    const failed = task.deliveries.some((d) => d.state === "push_failed");
    const attempts = task.deliveries.reduce((n, d) => n + d.attempts, 0);
    const clue = ctx.openAlert
      ? h("a", { href: "#", onclick: (e) => { e.preventDefault(); ctx.openAlert(task.clue_code); } }, task.clue_code)
      : h("span", {}, task.clue_code);
    const toggle = h("button", { type: "button", class: "dt-btn dt-btn-small", "aria-expanded": String(open.has(task.task_id)) },
      ctx.t(open.has(task.task_id) ? "tasks.hide_attempts" : "tasks.show_attempts", { n: attempts }));
    const buttons = h("div", { class: "dt-task-actions" }, toggle);
    const actions = h("td", {}, buttons);
    if (role === "supervisor" && failed) {
      const b = h("button", { type: "button", class: "dt-btn dt-btn-small dt-btn-primary dt-retry" }, ctx.t("tasks.retry"));
      b.addEventListener("click", () => retry(task, b));
      buttons.append(b);
    }
    const tr0 = h("tr", { dataset: { task: task.task_id } },
      h("td", {}, ctx.timeEl(task.created_at)),
      h("td", {}, h("code", {}, task.task_id), task.item_code ? h("div", { class: "dt-muted" }, task.item_code) : null),
      h("td", {}, clue),
      h("td", {}, task.subject_code),
      h("td", {}, h("div", { class: "dt-deliveries" }, task.unrouted ? stateBadge(ctx, "unrouted")
        : task.deliveries.map((d) => h("span", { class: "dt-delivery-badge" }, h("span", {}, d.system), " ",
          stateBadge(ctx, d.state), d.receiver_ref ? h("span", { class: "dt-ref", title: ctx.t("tasks.receiver_ref") },
            d.receiver_ref) : null)))),
      actions);
    const detail = h("tr", { class: "dt-task-detail", hidden: !open.has(task.task_id) },
      h("td", { colspan: 6 }, h("p", { class: "dt-muted" }, ctx.t("detail.loading"))));
    const load = async () => {
      try {
        const full = await ctx.api.get(`/api/tasks/${encodeURIComponent(task.task_id)}`);
        detail.firstChild.replaceChildren(...full.deliveries.map((d) => deliveryDetail(ctx, d)));
      } catch (err) {
        detail.firstChild.replaceChildren(h("p", { class: "dt-refused" }, ctx.refusalText(err)));
      }
    };
    toggle.addEventListener("click", () => {
      const show = !open.has(task.task_id);
      if (show) open.add(task.task_id); else open.delete(task.task_id);
      detail.hidden = !show;
      toggle.setAttribute("aria-expanded", String(show));
      toggle.textContent = ctx.t(show ? "tasks.hide_attempts" : "tasks.show_attempts", { n: attempts });
      if (show) load();
    });
    if (open.has(task.task_id)) load();
    return [tr0, detail];
  }

  function paintRows() {
    body.replaceChildren(...(items.length ? items.flatMap(row)
      : [h("tr", {}, h("td", { colspan: 6, class: "dt-muted" }, ctx.t("tasks.none")))]));
    more.hidden = !cursor;
  }

  async function loadSystems() {
    if (!SYSTEM_READERS.has(role)) return;
    try {
      const out = await ctx.api.get("/api/case-systems");
      systems.replaceChildren(out.systems.length ? h("table", { class: "dt-table dt-system-table" },
        h("thead", {}, h("tr", {}, ["name", "state", "deliveries", "actions"].map((c) => h("th", {}, ctx.t(`tasks.sys_${c}`))))),
        h("tbody", {}, out.systems.map((s) => systemRow(s)))) : h("p", { class: "dt-muted" }, ctx.t("tasks.no_systems")));
    } catch (err) {
      systems.replaceChildren(h("p", { class: "dt-refused" }, ctx.refusalText(err)));
    }
  }

  function systemRow(s) {
    const status = h("div", {});
    if (!s.enabled) status.append(h("div", {}, stateBadge(ctx, "disabled"), " ", ctx.t("tasks.sys_off_in_config")));
    if (s.disabled_reason) {
      status.append(h("div", {}, stateBadge(ctx, "disabled"), " ", ctx.t("tasks.sys_disabled_since"), " ",
        time(ctx, s.disabled_at)), h("div", { class: "dt-why" }, s.disabled_reason));
    }
    if (s.enabled && !s.disabled_reason) status.append(h("span", { class: "dt-badge dt-badge-ok" }, ctx.t("tasks.sys_enabled")));
    const counts = Object.entries(s.deliveries).map(([k, n]) => h("span", { class: "dt-count" }, stateBadge(ctx, k), ` ${n}`));
    const actions = h("td");
    if (SYSTEM_ENABLERS.has(role) && s.disabled_reason) {
      const b = h("button", { type: "button", class: "dt-btn dt-btn-small dt-btn-primary" }, ctx.t("tasks.enable"));
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          const out = await ctx.api.post(`/api/case-systems/${encodeURIComponent(s.name)}/enable`, {});
          say(ctx.t("tasks.enabled", { system: out.system, n: out.deliveries_pending_again }));
          await refresh();
        } catch (err) {
          say(ctx.refusalText(err), true);
          b.disabled = false;
        }
      });
      actions.append(b);
    }
    return h("tr", { dataset: { system: s.name } }, h("td", {}, h("strong", {}, s.name), h("div", { class: "dt-muted" }, s.url)),
      h("td", {}, status), h("td", {}, h("div", { class: "dt-counts" }, counts.length ? counts : "—")), actions);
  }

  async function refresh(append = false) {
    const mine = ++generation;
    const params = { limit: 50 };
    if (state) params.state = state;
    if (append && cursor) params.cursor = cursor;
    try {
      const [page] = await Promise.all([ctx.api.get("/api/tasks", params), append ? null : loadSystems()]);
      if (destroyed || mine !== generation) return;
      items = append ? [...items, ...page.items] : page.items;
      paged = append;
      cursor = page.next;
      paintRows();
      updated.replaceChildren(ctx.t("tasks.updated"), " ", ctx.timeEl(new Date().toISOString()));
    } catch (err) {
      if (destroyed || mine !== generation) return;
      say(ctx.refusalText(err), true);
    }
  }

  filter.addEventListener("change", () => { state = filter.value; cursor = null; refresh(); });
  more.addEventListener("click", () => refresh(true));
  await refresh();
  timer = setInterval(() => { if (!document.hidden && !paged) refresh(); }, REFRESH_MS);
  return {
    refresh: () => refresh(),
    destroy() {
      destroyed = true;
      clearInterval(timer);
      el.replaceChildren();
    },
  };
}
