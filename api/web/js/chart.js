// The alert's sensor chart: its readings, the limit as a line, and the part beyond the limit shaded, on a time
// axis in the console's time zone. uPlot (vendored) draws it on a canvas; the shading is drawn by a hook that
// clips the area between the readings and the limit to the side of the limit the rule forbids.

const UPLOT_JS = "/web/vendor/uplot/uPlot.iife.min.js";
const UPLOT_CSS = "/web/vendor/uplot/uPlot.min.css";

let loading = null;

/** uPlot is a classic script (a global); load it, and its stylesheet, once unless the page already did. */
export function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      if (!document.querySelector(`link[href="${UPLOT_CSS}"]`)) {
        const css = Object.assign(document.createElement("link"), { rel: "stylesheet", href: UPLOT_CSS });
        document.head.append(css);
      }
      const s = Object.assign(document.createElement("script"), { src: UPLOT_JS });
      s.onload = () => resolve(window.uPlot);
      s.onerror = () => { loading = null; reject(new Error(`cannot load ${UPLOT_JS}`)); };
      document.head.append(s);
    });
  }
  return loading;
}

/** Which side of the limit is an exceedance: "above" (max rules), "below" (min), "outside" (range). */
export function side(comparison) {
  if (["min", "lt", "le", "below"].includes(comparison)) return "below";
  if (comparison === "range") return "outside";
  return "above";
}

function beyond(v, limit, limitLow, where) {
  if (where === "below") return v < limit;
  if (where === "outside") return v > limit || (limitLow != null && v < limitLow);
  return v > limit;
}

/** What the chart shows in words: the readings, the worst one, and how many are beyond the limit. */
export function summarize(points, limit, comparison, limitLow = null) {
  const where = side(comparison);
  let worst = null;
  let over = 0;
  for (const [t, v] of points) {
    if (limit != null && beyond(v, limit, limitLow, where)) over += 1;
    const worse = worst === null || (where === "below" ? v < worst.v : v > worst.v);
    if (worse) worst = { t, v };
  }
  return { count: points.length, over, worst, side: where };
}

function cssVar(el, name, fallback) {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v || fallback;
}

function partsIn(tz) {
  const f = new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  return (sec) => Object.fromEntries(f.formatToParts(new Date(sec * 1000)).map((p) => [p.type, p.value]));
}

/** Tick labels in the console's zone: HH:mm, with the date where the day changes (or on the first tick). */
function timeTicks(tz) {
  const parts = partsIn(tz);
  return (_u, splits) => {
    let day = null;
    return splits.map((s) => {
      const p = parts(s);
      const d = `${p.month}-${p.day}`;
      const hm = `${p.hour}:${p.minute}`;
      const label = day === null || d !== day ? `${d} ${hm}` : hm;
      day = d;
      return label;
    });
  };
}

function shadeHook(limit, limitLow, where, fill) {
  return (u) => {
    const xs = u.data[0];
    const ys = u.data[1];
    if (limit == null || xs.length < 2) return;
    const { left, top, width, height } = u.bbox;
    const ctx = u.ctx;
    const fillTo = (lim, above) => {
      const yLim = u.valToPos(lim, "y", true);
      ctx.save();
      ctx.beginPath();
      if (above) ctx.rect(left, top, width, Math.max(0, yLim - top));
      else ctx.rect(left, yLim, width, Math.max(0, top + height - yLim));
      ctx.clip();
      ctx.beginPath();
      ctx.moveTo(u.valToPos(xs[0], "x", true), yLim);
      for (let i = 0; i < xs.length; i++) ctx.lineTo(u.valToPos(xs[i], "x", true), u.valToPos(ys[i], "y", true));
      ctx.lineTo(u.valToPos(xs[xs.length - 1], "x", true), yLim);
      ctx.closePath();
      ctx.fillStyle = fill;
      ctx.fill();
      ctx.restore();
    };
    if (where === "below") fillTo(limit, false);
    else fillTo(limit, true);
    if (where === "outside" && limitLow != null) fillTo(limitLow, false);
  };
}

function windowHook(start, end, fill) {
  return (u) => {
    if (start == null) return;
    const { top, height, left, width } = u.bbox;
    const x0 = Math.max(left, u.valToPos(start, "x", true));
    const x1 = Math.min(left + width, u.valToPos(end ?? u.scales.x.max, "x", true));
    if (x1 <= x0) return;
    u.ctx.save();
    u.ctx.fillStyle = fill;
    u.ctx.fillRect(x0, top, x1 - x0, height);
    u.ctx.restore();
  };
}

/**
 * Draw `chartData` ({metric, unit, limit, comparison, points [[iso, value]]}) into `el`.
 * opts: {t, timezone, fmtTime, height, limitLow, window: {start, end} (ISO; shaded faintly as the alert's span)}.
 * Returns {destroy(), summary}.
 */
export async function renderChart(el, chartData, opts = {}) {
  const t = opts.t || ((k) => k);
  const tz = opts.timezone || "Asia/Shanghai";
  const points = (chartData.points || []).map(([iso, v]) => [Date.parse(iso) / 1000, v]);
  const { limit, unit, comparison } = chartData;
  const limitLow = opts.limitLow ?? null;
  const summary = summarize(points, limit, comparison, limitLow);
  el.replaceChildren();
  el.classList.add("dt-chart");
  el.dataset.points = String(points.length);
  el.dataset.over = String(summary.over);
  if (points.length === 0) {
    const p = document.createElement("p");
    p.className = "dt-empty";
    p.textContent = t("chart.no_readings");
    el.append(p);
    return { destroy() { el.replaceChildren(); }, summary };
  }
  const uPlot = await loadUplot();
  const where = summary.side;
  const line = cssVar(el, "--dt-chart-line", "#1f6feb");
  const limitColour = cssVar(el, "--dt-chart-limit", "#d1242f");
  const shade = cssVar(el, "--dt-chart-exceed", "rgba(209, 36, 47, 0.28)");
  const span = cssVar(el, "--dt-chart-window", "rgba(130, 80, 223, 0.07)");
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const data = [xs, ys];
  const series = [
    { label: t("chart.time"), value: (_u, v) => (v == null ? "" : (opts.fmtTime ? opts.fmtTime(new Date(v * 1000).toISOString()).text
      : new Date(v * 1000).toISOString())) },
    { label: `${chartData.metric || t("chart.value")}${unit ? ` (${unit})` : ""}`, stroke: line, width: 1.5,
      points: { show: points.length < 200, size: 4 }, value: (_u, v) => (v == null ? "" : String(v)) },
  ];
  if (limit != null) {
    data.push(xs.map(() => limit));
    series.push({ label: t("chart.limit"), stroke: limitColour, width: 1.5, dash: [6, 4], points: { show: false },
      value: () => String(limit) });
  }
  const range = (_u, min, max) => {
    const lo = Math.min(min, limit ?? min, limitLow ?? min);
    const hi = Math.max(max, limit ?? max);
    const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1;
    return [lo - pad, hi + pad];
  };
  const win = opts.window || {};
  const height = opts.height || 200;
  const options = {
    width: Math.max(240, el.clientWidth || 480),
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), tz),
    scales: { x: { time: true }, y: { range } },
    series,
    axes: [
      { values: timeTicks(tz), stroke: cssVar(el, "--dt-fg-muted", "#57606a"), size: 36, space: 80 },
      { label: unit || "", stroke: cssVar(el, "--dt-fg-muted", "#57606a"), size: 52 },
    ],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    hooks: {
      drawClear: [windowHook(win.start ? Date.parse(win.start) / 1000 : null,
        win.end ? Date.parse(win.end) / 1000 : null, span)],
      draw: [shadeHook(limit, limitLow, where, shade)],
    },
  };
  const plot = new uPlot(options, data, el);
  const caption = document.createElement("p");
  caption.className = "dt-chart-summary";
  if (summary.worst) {
    const worst = opts.fmtTime ? opts.fmtTime(new Date(summary.worst.t * 1000).toISOString()).text : "";
    caption.textContent = t(limit == null ? "chart.summary_nolimit" : `chart.summary_${where}`, {
      count: summary.count, over: summary.over, worst: summary.worst.v, unit: unit || "", time: worst,
      limit: limit ?? "" });
  }
  el.append(caption);
  let width = el.clientWidth;
  const resized = new ResizeObserver(() => {
    if (el.clientWidth && el.clientWidth !== width) {
      width = el.clientWidth;
      plot.setSize({ width: Math.max(240, width), height });
    }
  });
  resized.observe(el);
  return {
    summary,
    plot,
    destroy() {
      resized.disconnect();
      plot.destroy();
      el.replaceChildren();
    },
  };
}
