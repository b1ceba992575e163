// The public device disclosure page (Administrative Penalty Law art. 41: the places of electronic monitoring
// devices are published, and that they passed legal and technical review and hold a valid metrological
// verification). No sign-in: everything here comes from the public API without a token. It also shows the
// evidence log's newest signed checkpoint and verifier key, and checks the signature in the page, so anyone
// may keep both and later hold the log to them.

import { applyI18n, fmtTime, has, lang, loadMessages, setLang, setTimezone, storedLang, t, timeEl } from "./i18n.js";
import { loadLeaflet, shiftGeometry, subdomainsFor, wgs84ToGcj02 } from "./map.js";
import { bytesToHex, b64encode, parseCheckpoint, parseVkey, verifyNoteSignature } from "./verify.js";

const BUNDLES = ["public"];
// Cameras, drones and docks record pictures; they are not measuring instruments, so no metrological
// verification applies to them (a sensor without a valid certificate is flagged instead).
const NOT_MEASURING = new Set(["camera", "drone", "dock"]);

const state = { config: null, devices: [], boundaries: null, checkpoint: null, vkey: null, fetchedAt: null,
  error: null, map: null, markers: new Map(), selected: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** The message for `prefix.value`, else the value as the API gave it (a code these files do not know yet). */
function word(prefix, value) {
  return has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value);
}

async function getJson(path, accept = "application/json") {
  const r = await fetch(path, { headers: { Accept: accept }, cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

async function getText(path) {
  const r = await fetch(path, { headers: { Accept: "text/plain" }, cache: "no-store" });
  return { status: r.status, text: r.ok ? await r.text() : "" };
}

/** A date in the configured zone, the full time with its UTC offset on hover. */
function dateEl(iso) {
  const node = timeEl(iso);
  node.textContent = fmtTime(iso).text.slice(0, 10);
  return node;
}

// The server's verdict (calibration_valid, by its clock), never the browser's clock.
function calibration(d) {
  if (d.calibration_valid) return "valid";
  if (d.calibration_cert && d.calibration_valid_until) return "expired";
  if (!d.calibration_cert && NOT_MEASURING.has(d.kind)) return "na";
  return "missing";
}

// ---------------------------------------------------------------- summary and table

function renderSummary() {
  const box = document.getElementById("summary");
  if (state.error) {
    box.replaceChildren(el("p", { class: "pub-error", role: "alert" }, t("public.load_failed",
      { message: state.error })));
    return;
  }
  const count = (s) => state.devices.filter((d) => calibration(d) === s).length;
  const fixed = state.devices.filter((d) => d.lon !== null && d.lat !== null).length;
  box.replaceChildren(
    el("p", {}, t("public.summary", { total: state.devices.length, fixed, mobile: state.devices.length - fixed })),
    el("ul", { class: "pub-counts" },
      ["valid", "expired", "missing", "na"].filter((s) => count(s) > 0).map((s) => el("li", { dataset: { cal: s } },
        el("span", { class: "pub-dot", "aria-hidden": "true" }),
        t(`public.count.${s}`, { n: count(s) })))),
    state.fetchedAt ? el("p", { class: "pub-muted" }, t("public.updated"), " ", timeEl(state.fetchedAt))
      : null);
}

function calibrationCell(d) {
  const s = calibration(d);
  const badge = el("span", { class: "pub-badge", dataset: { cal: s } }, t(`public.cal.${s}`));
  const lines = [badge];
  if (s === "na") lines.push(el("div", { class: "pub-muted" }, t("public.cal.na_why")));
  if (d.calibration_cert) lines.push(el("div", { class: "pub-ref" }, d.calibration_cert));
  if (d.calibration_valid_until) {
    const until = dateEl(d.calibration_valid_until);
    lines.push(el("div", { class: "pub-muted" }, t(s === "expired" ? "public.cal.expired_on" : "public.cal.until"),
      " ", until));
  }
  return lines;
}

function reviewsCell(d) {
  const ref = (key, value) => [el("span", { class: "pub-muted" }, t(key)),
    value ? el("span", { class: "pub-ref" }, value) : el("span", { class: "pub-missing" }, t("public.not_recorded"))];
  return el("div", { class: "pub-reviews" }, ref("public.legal_review", d.legal_review_ref),
    ref("public.technical_review", d.technical_review_ref));
}

function locationCell(d) {
  if (d.lon === null || d.lat === null) return el("span", { class: "pub-muted" }, t("public.mobile"));
  return el("button", { type: "button", class: "pub-link", onclick: (ev) => { ev.stopPropagation(); select(d.id, true); } },
    `${d.lat.toFixed(5)}° N, ${d.lon.toFixed(5)}° E`);
}

function renderTable() {
  const body = document.querySelector("#devices tbody");
  // One wrapper per cell: on a phone each cell is a labelled row of a card (public.css).
  const cell = (key, ...content) => el("td", { "data-label": t(key) }, el("div", { class: "pub-cell" }, content));
  body.replaceChildren(...state.devices.map((d) => el("tr", {
    dataset: { id: d.id, cal: calibration(d) }, class: state.selected === d.id ? "pub-selected" : null,
    onclick: () => select(d.id, true) },
  cell("public.col.device",
    el("div", { class: "pub-name" }, d.name),
    el("div", { class: "pub-muted" }, word("public.kind", d.kind), " · ", el("code", {}, d.id))),
  cell("public.col.measures",
    el("div", {}, d.measures.length ? d.measures.map((m) => word("public.measure", m)).join(t("public.list_sep"))
      : t("public.none")),
    d.inspection_object ? el("div", { class: "pub-muted" }, t("public.object", { name: d.inspection_object })) : null),
  cell("public.col.location", locationCell(d)),
  cell("public.col.since", dateEl(d.since)),
  cell("public.col.reviews", reviewsCell(d)),
  cell("public.col.calibration", calibrationCell(d)),
  cell("public.col.notice", d.public_notice && /^https?:\/\//.test(d.public_notice)
    ? el("a", { href: d.public_notice, rel: "noopener noreferrer", target: "_blank" }, t("public.notice_link"))
    : el("span", { class: "pub-muted" }, d.public_notice || t("public.none"))))));
  if (!state.devices.length && !state.error) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "7", class: "pub-muted" }, t("public.no_devices"))));
  }
}

// ---------------------------------------------------------------- map

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

async function renderMap() {
  const host = document.getElementById("map");
  let L;
  try {
    L = await loadLeaflet();
  } catch {
    host.replaceChildren(el("p", { class: "pub-muted" }, t("public.map_unavailable")));
    return;
  }
  if (state.map) state.map.remove();
  state.markers.clear();
  const config = state.config || {};
  const tiles = config.tile_url || null;
  const shift = tiles && config.tile_crs === "gcj02" ? wgs84ToGcj02 : (lon, lat) => [lon, lat];
  host.dataset.base = tiles ? "tiles" : "offline";
  const map = L.map(host, { scrollWheelZoom: false, zoomSnap: 0.5, maxZoom: config.max_zoom || 18 });
  state.map = map;
  map.attributionControl.setPrefix("Leaflet");
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: config.max_zoom || 18, subdomains: subdomainsFor(tiles),
      attribution: config.tile_attribution || "" }).addTo(map);
  } else {
    map.attributionControl.addAttribution(t("public.map_offline"));
  }
  const colour = {
    boundary: cssVar("--pub-map-boundary", "#5f6b7a"), land: cssVar("--pub-map-land", "#eef1f4"),
    valid: cssVar("--pub-ok", "#1a7f37"), expired: cssVar("--pub-bad", "#c0262d"),
    missing: cssVar("--pub-warn", "#9a6700"), na: cssVar("--pub-accent", "#1f6feb"),
  };
  // The view is fitted to the devices (the district's outline around them), or to the district without any.
  const bounds = L.latLngBounds([]);
  const district = L.latLngBounds([]);
  const layers = [];
  const features = state.boundaries?.features || [];
  if (features.length) {
    const shifted = features.map((f) => ({ ...f, geometry: shiftGeometry(f.geometry, shift) }));
    const base = L.geoJSON({ type: "FeatureCollection", features: shifted }, {
      interactive: false,
      style: () => (tiles ? { color: colour.boundary, weight: 1.5, dashArray: "4 4", fill: false }
        : { color: colour.boundary, weight: 1.5, fillColor: colour.land, fillOpacity: 1 }),
      onEachFeature: (f, layer) => {
        if (!tiles && f.properties?.name) {
          layer.bindTooltip(f.properties.name, { permanent: true, direction: "center", className: "pub-map-label" });
        }
      },
    });
    layers.push(base);
    district.extend(base.getBounds());
  }
  for (const d of state.devices) {
    if (d.lon === null || d.lat === null) continue;
    const [x, y] = shift(d.lon, d.lat);
    const at = L.latLng(y, x);
    const marker = L.circleMarker(at, { radius: 8, color: "#fff", weight: 2, fillColor: colour[calibration(d)],
      fillOpacity: 1 });
    marker.bindTooltip(`${d.name} · ${word("public.kind", d.kind)} · ${t(`public.legend.${calibration(d)}`)}`);
    marker.on("click", () => select(d.id, false));
    state.markers.set(d.id, marker);
    layers.push(marker);
    bounds.extend(at);
  }
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [32, 32], maxZoom: 16 });
  else if (district.isValid()) map.fitBounds(district, { padding: [8, 8] });
  else map.setView([35, 105], 4);
  // Paths are added once the map has a view: Leaflet clips them against the renderer's bounds.
  for (const layer of layers) layer.addTo(map);
  legend(L, colour).addTo(map);
}

function legend(L, colour) {
  const control = L.control({ position: "bottomleft" });
  control.onAdd = () => {
    const div = L.DomUtil.create("div", "pub-legend");
    for (const s of ["valid", "expired", "missing", "na"]) {
      if (!state.devices.some((d) => calibration(d) === s && d.lon !== null)) continue;
      const row = L.DomUtil.create("div", "", div);
      const dot = L.DomUtil.create("span", "pub-dot", row);
      dot.style.background = colour[s];
      L.DomUtil.create("span", "", row).textContent = t(`public.legend.${s}`);
    }
    return div;
  };
  return control;
}

function select(id, fromTable) {
  state.selected = id;
  for (const row of document.querySelectorAll("#devices tbody tr")) {
    row.classList.toggle("pub-selected", row.dataset.id === id);
  }
  const marker = state.markers.get(id);
  if (marker && state.map) {
    if (fromTable) {
      state.map.setView(marker.getLatLng(), Math.max(state.map.getZoom(), 15));
      document.getElementById("map").scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
    marker.openTooltip();
  }
  if (!fromTable) {
    document.querySelector(`#devices tbody tr[data-id="${CSS.escape(id)}"]`)?.scrollIntoView({ block: "nearest" });
  }
}

// ---------------------------------------------------------------- the evidence log's checkpoint and key

async function checkSignature(note, vkey) {
  try {
    await verifyNoteSignature(note, vkey);
    const key = parseVkey(vkey);
    const cp = parseCheckpoint(note);
    if (cp.origin !== key.name) return { ok: false, reason: t("public.sig_origin", { origin: cp.origin }) };
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err.reason || String(err.message || err) };
  }
}

async function renderCheckpoint() {
  const box = document.getElementById("checkpoint");
  const cp = state.checkpoint, vk = state.vkey;
  if (!cp || !vk) {
    box.replaceChildren(el("p", { class: "pub-muted" }, t("public.loading")));
    return;
  }
  if (cp.status === 404 || vk.status !== 200 || cp.status !== 200) {
    const key = cp.status === 404 ? "public.no_checkpoint" : "public.log_unavailable";
    box.replaceChildren(el("p", { class: "pub-muted" }, t(key)), vk.status === 200 ? keyBlock(vk.text) : null);
    return;
  }
  let parsed = null;
  try {
    parsed = parseCheckpoint(cp.text);
  } catch {
    // shown as a failed check below
  }
  const check = await checkSignature(cp.text, vk.text);
  const facts = parsed ? el("dl", { class: "pub-facts" },
    el("dt", {}, t("public.log_origin")), el("dd", {}, el("code", {}, parsed.origin)),
    el("dt", {}, t("public.log_size")), el("dd", {}, String(parsed.size)),
    el("dt", {}, t("public.log_root")), el("dd", {}, el("code", { title: bytesToHex(parsed.root) },
      b64encode(parsed.root)))) : null;
  box.replaceChildren(
    el("p", { class: "pub-sig", dataset: { ok: String(check.ok) }, role: "status" },
      check.ok ? t("public.sig_ok") : t("public.sig_fail", { reason: check.reason })),
    facts,
    el("h3", {}, t("public.log_note"), " ", el("a", { href: "/api/public/checkpoint", target: "_blank" },
      t("public.raw"))),
    el("pre", { class: "pub-note", id: "checkpoint-note" }, cp.text),
    keyBlock(vk.text),
    el("details", { class: "pub-how" }, el("summary", {}, t("public.how")),
      el("p", {}, t("public.how_keep")), el("p", {}, t("public.how_bundle")),
      el("pre", { class: "pub-note" }, `python3 verify.py --vkey ${vk.text.trim()}`)));
}

function keyBlock(vkey) {
  return el("div", { class: "pub-key" },
    el("h3", {}, t("public.vkey"), " ", el("a", { href: "/api/public/vkey", target: "_blank" }, t("public.raw"))),
    el("pre", { class: "pub-note", id: "vkey" }, vkey.trim()));
}

// ---------------------------------------------------------------- loading and language

function renderAll() {
  applyI18n(document);
  const zone = state.config?.timezone || "Asia/Shanghai";
  document.getElementById("devices-lead").textContent = zone === "Asia/Shanghai" ? t("public.devices_lead")
    : t("public.devices_lead_zone", { zone });
  document.title = t("public.title");
  for (const b of document.querySelectorAll(".pub-lang button")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang()));
  renderSummary();
  renderTable();
  renderCheckpoint();
  renderMap();
}

async function loadCheckpoint() {
  [state.checkpoint, state.vkey] = await Promise.all([getText("/api/public/checkpoint"), getText("/api/public/vkey")]);
}

async function main() {
  try {
    state.config = await getJson("/api/console/config");
  } catch {
    state.config = {}; // the page still lists the devices; times then in the default zone
  }
  setTimezone(state.config.timezone || "Asia/Shanghai");
  await loadMessages(storedLang(state.config.default_language || "zh"), BUNDLES);
  const [devices, boundaries] = await Promise.allSettled([getJson("/api/public/devices"),
    getJson("/api/public/boundaries", "application/geo+json"), loadCheckpoint()]);
  if (devices.status === "fulfilled") {
    state.devices = devices.value.devices;
    state.fetchedAt = new Date().toISOString();
  } else {
    state.error = String(devices.reason?.message || devices.reason);
  }
  state.boundaries = boundaries.status === "fulfilled" ? boundaries.value : null;
  renderAll();
  document.body.dataset.ready = "true";
}

for (const b of document.querySelectorAll(".pub-lang button")) {
  b.addEventListener("click", async () => {
    await setLang(b.dataset.lang);
  });
}
window.addEventListener("langchange", () => renderAll());
document.getElementById("refresh-checkpoint")?.addEventListener("click", async () => {
  await loadCheckpoint();
  renderCheckpoint();
});

// GeoJSON is the same list asked for with another Accept header, which a plain link cannot send.
document.getElementById("geojson-download")?.addEventListener("click", async () => {
  const r = await fetch("/api/public/devices", { headers: { Accept: "application/geo+json" }, cache: "no-store" });
  if (!r.ok) return;
  const href = URL.createObjectURL(new Blob([await r.text()], { type: "application/geo+json" }));
  const a = el("a", { href, download: "devices.geojson" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
});

main();
