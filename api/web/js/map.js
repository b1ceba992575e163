// The alert's map: the zone polygon, the device, where the alert was placed, and a drone's track. The base is
// the configured tile template, or with none the jurisdiction boundaries themselves (so the map means
// something on a bureau LAN without internet). Our geometry is WGS84; AMap/Tencent tiles are GCJ-02, so with
// tile_crs "gcj02" every coordinate is shifted by the published GCJ-02 formula before it is drawn (the same
// constants as geo/crs.py, held to the same known answers by tests/web/test_console_detail.py).

const LEAFLET_JS = "/web/vendor/leaflet/leaflet.js";
const LEAFLET_CSS = "/web/vendor/leaflet/leaflet.css";

let loading = null;

/** Leaflet is a classic script (global L); load it, and its stylesheet, once unless the page already did. */
export function loadLeaflet() {
  if (window.L) return Promise.resolve(window.L);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      if (!document.querySelector(`link[href="${LEAFLET_CSS}"]`)) {
        document.head.append(Object.assign(document.createElement("link"), { rel: "stylesheet", href: LEAFLET_CSS }));
      }
      const s = Object.assign(document.createElement("script"), { src: LEAFLET_JS });
      s.onload = () => resolve(window.L);
      s.onerror = () => { loading = null; reject(new Error(`cannot load ${LEAFLET_JS}`)); };
      document.head.append(s);
    });
  }
  return loading;
}

// Krasovsky 1940 ellipsoid, as the published algorithm has it (geo/crs.py explains why not 6378137).
const A = 6378245.0;
const EE = 0.00669342162296594323;
// west, south, east, north: the box every public implementation uses for "inside China" (geo/crs.py CHINA_BBOX)
export const CHINA_BBOX = [72.004, 0.8293, 137.8347, 55.8271];

export function inChina(lon, lat) {
  const [w, s, e, n] = CHINA_BBOX;
  return lon >= w && lon <= e && lat >= s && lat <= n;
}

function gcjDelta(lon, lat) {
  const x = lon - 105.0;
  const y = lat - 35.0;
  const pi = Math.PI;
  const common = (20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0 / 3.0;
  const sq = Math.sqrt(Math.abs(x));
  const tLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq + common
    + (20.0 * Math.sin(y * pi) + 40.0 * Math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    + (160.0 * Math.sin(y / 12.0 * pi) + 320.0 * Math.sin(y * pi / 30.0)) * 2.0 / 3.0;
  const tLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq + common
    + (20.0 * Math.sin(x * pi) + 40.0 * Math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    + (150.0 * Math.sin(x / 12.0 * pi) + 300.0 * Math.sin(x / 30.0 * pi)) * 2.0 / 3.0;
  const rad = lat / 180.0 * pi;
  const magic = 1.0 - EE * Math.sin(rad) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  const dLat = (tLat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrtMagic) * pi);
  const dLon = (tLon * 180.0) / (A / sqrtMagic * Math.cos(rad) * pi);
  return [dLon, dLat];
}

/** WGS84 -> GCJ-02 (closed form); outside China unchanged. Returns [lon, lat]. */
export function wgs84ToGcj02(lon, lat) {
  if (!inChina(lon, lat)) return [lon, lat];
  const [dLon, dLat] = gcjDelta(lon, lat);
  return [lon + dLon, lat + dLat];
}

// The offset field is not linear: a long edge whose ends alone are moved strays metres from where the tiles
// have it, so edges longer than this (in degrees, about 500 m) are split first.
const DENSIFY_DEG = 0.0045;

function densify(ring) {
  const out = [];
  for (let i = 0; i < ring.length; i++) {
    const [x0, y0] = ring[i];
    out.push(ring[i]);
    if (i + 1 === ring.length) break;
    const [x1, y1] = ring[i + 1];
    const n = Math.ceil(Math.hypot(x1 - x0, y1 - y0) / DENSIFY_DEG);
    for (let k = 1; k < n; k++) out.push([x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n]);
  }
  return out;
}

/** A GeoJSON geometry with every position passed through `shift` (lines and rings densified first). */
export function shiftGeometry(geom, shift) {
  if (!geom) return geom;
  const pos = (c) => [...shift(c[0], c[1]), ...c.slice(2)];
  const line = (cs) => densify(cs).map(pos);
  switch (geom.type) {
    case "Point": return { ...geom, coordinates: pos(geom.coordinates) };
    case "MultiPoint": return { ...geom, coordinates: geom.coordinates.map(pos) };
    case "LineString": return { ...geom, coordinates: line(geom.coordinates) };
    case "MultiLineString":
    case "Polygon": return { ...geom, coordinates: geom.coordinates.map(line) };
    case "MultiPolygon": return { ...geom, coordinates: geom.coordinates.map((p) => p.map(line)) };
    case "GeometryCollection": return { ...geom, geometries: geom.geometries.map((g) => shiftGeometry(g, shift)) };
    default: return geom;
  }
}

function shiftFeature(f, shift) {
  if (!f) return f;
  if (f.type === "FeatureCollection") return { ...f, features: f.features.map((x) => shiftFeature(x, shift)) };
  if (f.type === "Feature") return { ...f, geometry: shiftGeometry(f.geometry, shift) };
  return shiftGeometry(f, shift);
}

/** Subdomains for {s}: Leaflet's default "abc" fits neither Tianditu (t0-t7) nor AMap (webrd01-04). */
export function subdomainsFor(url) {
  if (/tianditu/i.test(url)) return "01234567";
  if (/autonavi|amap/i.test(url)) return "1234";
  return "abc";
}

function cssVar(el, name, fallback) {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

function legend(L, t, items) {
  const control = L.control({ position: "bottomleft" });
  control.onAdd = () => {
    const div = L.DomUtil.create("div", "dt-map-legend");
    for (const [cls, key] of items) {
      const row = L.DomUtil.create("div", "", div);
      L.DomUtil.create("span", `dt-map-key ${cls}`, row);
      L.DomUtil.create("span", "", row).textContent = t(key);
    }
    return div;
  };
  return control;
}

/**
 * Draw into `el`: {zone (GeoJSON Feature), device ({lon, lat, name}), point ({lon, lat}: where the alert was
 * placed), track (GeoJSON LineString Feature), boundaries (FeatureCollection), config (/api/console/config), t}.
 * Returns {destroy(), map, crs}.
 */
export async function renderMap(el, { zone = null, device = null, point = null, track = null, boundaries = null,
  config = {}, t = (k) => k } = {}) {
  const L = await loadLeaflet();
  el.replaceChildren();
  el.classList.add("dt-map");
  const tiles = config.tile_url || null;
  const crs = tiles && config.tile_crs === "gcj02" ? "gcj02" : "wgs84";
  const shift = crs === "gcj02" ? wgs84ToGcj02 : (lon, lat) => [lon, lat];
  const ll = (lon, lat) => { const [x, y] = shift(lon, lat); return L.latLng(y, x); };
  el.dataset.crs = crs;
  el.dataset.base = tiles ? "tiles" : "offline";
  el.classList.toggle("dt-map-offline", !tiles);
  const map = L.map(el, { scrollWheelZoom: false, zoomSnap: 0.5, attributionControl: true,
    maxZoom: config.max_zoom || 18 });
  map.attributionControl.setPrefix("Leaflet");
  const colour = {
    zone: cssVar(el, "--dt-map-zone", "#d1242f"),
    boundary: cssVar(el, "--dt-map-boundary", "#57606a"),
    land: cssVar(el, "--dt-map-land", "#eef1f4"),
    device: cssVar(el, "--dt-map-device", "#1f6feb"),
    track: cssVar(el, "--dt-map-track", "#8250df"),
    point: cssVar(el, "--dt-map-point", "#bf3989"),
  };
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: config.max_zoom || 18, subdomains: subdomainsFor(tiles),
      attribution: config.tile_attribution || "" }).addTo(map);
  } else {
    map.attributionControl.addAttribution(t("map.offline_base"));
  }
  // Vector layers are added only once the map has a view: Leaflet clips paths against the renderer's bounds,
  // which do not exist before.
  const layers = [];
  const add = (layer) => { layers.push(layer); return layer; };
  const bounds = L.latLngBounds([]);
  let base = null;
  if (boundaries && boundaries.features && boundaries.features.length) {
    base = add(L.geoJSON(shiftFeature(boundaries, shift), {
      interactive: !tiles,
      style: () => (tiles ? { color: colour.boundary, weight: 1.5, dashArray: "4 4", fill: false }
        : { color: colour.boundary, weight: 1.5, fillColor: colour.land, fillOpacity: 1 }),
      onEachFeature: (f, layer) => {
        if (!tiles && f.properties && f.properties.name) {
          layer.bindTooltip(f.properties.name, { permanent: true, direction: "center", className: "dt-map-label" });
        }
      },
    }));
  }
  const keys = [];
  if (zone && zone.geometry) {
    const layer = add(L.geoJSON(shiftFeature(zone, shift), {
      style: { color: colour.zone, weight: 2, fillColor: colour.zone, fillOpacity: 0.15 },
    }));
    if (zone.properties && zone.properties.name) layer.bindTooltip(zone.properties.name);
    bounds.extend(layer.getBounds());
    keys.push(["dt-key-zone", "map.key_zone"]);
  }
  const coords = track && track.geometry && track.geometry.coordinates || [];
  if (coords.length > 1) {
    const path = coords.map(([lon, lat]) => ll(lon, lat));
    const line = add(L.polyline(path, { color: colour.track, weight: 3, opacity: 0.85 }));
    add(L.circleMarker(path[0], { radius: 4, color: colour.track, fillOpacity: 1 })).bindTooltip(t("map.track_start"));
    add(L.circleMarker(path[path.length - 1], { radius: 6, color: colour.track, fillColor: "#fff", fillOpacity: 1,
      weight: 3 })).bindTooltip(t("map.track_end"));
    bounds.extend(line.getBounds());
    keys.push(["dt-key-track", "map.key_track"]);
  }
  el.dataset.trackPoints = String(coords.length);
  if (device && device.lon != null && device.lat != null) {
    const at = ll(device.lon, device.lat);
    add(L.circleMarker(at, { radius: 7, color: "#fff", weight: 2, fillColor: colour.device, fillOpacity: 1 }))
      .bindTooltip(device.name || device.id || "");
    bounds.extend(at);
    keys.push(["dt-key-device", "map.key_device"]);
  }
  const devAt = device && device.lon != null ? [device.lon, device.lat] : null;
  if (point && point.lon != null && point.lat != null
      && !(devAt && Math.abs(devAt[0] - point.lon) < 1e-6 && Math.abs(devAt[1] - point.lat) < 1e-6)) {
    const at = ll(point.lon, point.lat);
    add(L.circleMarker(at, { radius: 9, color: colour.point, weight: 3, fill: false })).bindTooltip(t("map.alert_point"));
    bounds.extend(at);
    keys.push(["dt-key-point", "map.alert_point"]);
  }
  if (keys.length) legend(L, t, keys).addTo(map);
  if (bounds.isValid()) {
    // A site alone says little: keep its surroundings (with the offline base, the district's outline) in view.
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: tiles ? 17 : 16 });
  } else if (base) map.fitBounds(base.getBounds(), { padding: [8, 8] });
  else map.setView([35, 105], 4);
  for (const layer of layers) layer.addTo(map);
  const resized = new ResizeObserver(() => map.invalidateSize());
  resized.observe(el);
  return {
    map,
    crs,
    destroy() {
      resized.disconnect();
      map.remove();
      el.replaceChildren();
    },
  };
}
