// Messages and times for every page of the console. Messages are flat JSON files per language and bundle
// (/web/i18n/{lang}/{bundle}.json, "{name}" placeholders); times are shown in the console's configured zone,
// never the browser's, because a bureau's screens must agree with its case files.

const LANG_KEY = "enforcegw.lang";
const LANGS = ["zh", "en"];
const DEFAULT_BUNDLES = ["console", "detail", "verify", "public"];

let current = "zh";
let messages = {};
let bundlesLoaded = DEFAULT_BUNDLES;
let timezone = "Asia/Shanghai";
const formatters = new Map();

export function lang() {
  return current;
}

/** The language a fresh page starts in: the one chosen in this browser, else the configured default. */
export function storedLang(fallback = "zh") {
  return chosenLang() || (LANGS.includes(fallback) ? fallback : "zh");
}

/** The language chosen in this browser (the switch), or null when none was. */
export function chosenLang() {
  try {
    const v = localStorage.getItem(LANG_KEY);
    return LANGS.includes(v) ? v : null;
  } catch {
    return null; // storage refused (private mode): the configured default then
  }
}

async function fetchBundle(lng, bundle) {
  try {
    const r = await fetch(`/web/i18n/${lng}/${bundle}.json`, { cache: "no-cache" });
    if (!r.ok) return {};
    const doc = await r.json();
    return doc && typeof doc === "object" ? doc : {};
  } catch {
    return {}; // a bundle another page has not shipped yet is simply absent
  }
}

export async function loadMessages(lng, bundles = DEFAULT_BUNDLES) {
  const target = LANGS.includes(lng) ? lng : "zh";
  const docs = await Promise.all(bundles.map((b) => fetchBundle(target, b)));
  messages = Object.assign({}, ...docs);
  current = target;
  bundlesLoaded = bundles;
  document.documentElement.lang = target === "zh" ? "zh-CN" : "en";
  return messages;
}

export function has(key) {
  return Object.prototype.hasOwnProperty.call(messages, key);
}

export function t(key, params = {}) {
  const text = has(key) ? String(messages[key]) : String(key);
  if (!params || typeof params !== "object") return text;
  return text.replace(/\{(\w+)\}/g, (m, name) =>
    Object.prototype.hasOwnProperty.call(params, name) && params[name] !== undefined && params[name] !== null
      ? String(params[name]) : m);
}

/** The message for `prefix.value` when there is one, else the raw value (codes the files do not know yet). */
export function label(prefix, value) {
  if (value === null || value === undefined || value === "") return "";
  const key = `${prefix}.${value}`;
  return has(key) ? t(key) : String(value);
}

export async function setLang(lng) {
  try {
    localStorage.setItem(LANG_KEY, lng);
  } catch {
    // not kept across reloads then; the switch still applies now
  }
  await loadMessages(lng, bundlesLoaded);
  window.dispatchEvent(new CustomEvent("langchange", { detail: { lang: current } }));
}

export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
}

export function setTimezone(tz) {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    timezone = tz;
  } catch {
    timezone = "Asia/Shanghai"; // an unknown zone name: the bureau default rather than the browser's
  }
  formatters.clear();
}

export function getTimezone() {
  return timezone;
}

function formatter() {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit", hourCycle: "h23", timeZoneName: "longOffset",
    });
    formatters.set(timezone, f);
  }
  return f;
}

function parts(date) {
  const out = {};
  for (const p of formatter().formatToParts(date)) out[p.type] = p.value;
  const off = (out.timeZoneName || "GMT").replace("GMT", "") || "+00:00";
  return { ...out, offset: off.length === 3 ? `${off}:00` : off };
}

export function fmtTime(iso) {
  if (!iso) return { text: "", title: "" };
  const date = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(date.getTime())) return { text: String(iso), title: String(iso) };
  const p = parts(date);
  const text = `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  const raw = iso instanceof Date ? iso.toISOString() : String(iso);
  return { text, title: `${text} ${p.offset} (${raw})` };
}

export function timeEl(iso) {
  const el = document.createElement("time");
  const { text, title } = fmtTime(iso);
  el.textContent = text;
  el.title = title;
  if (iso) el.dateTime = iso instanceof Date ? iso.toISOString() : String(iso);
  return el;
}

/** "YYYY-MM-DDTHH:mm[:ss]" read as a wall-clock time in the console's zone -> ISO 8601 in UTC. */
export function zonedToIso(local) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  // The zone's offset at that instant; twice, so a wall time next to a DST change lands on the right side.
  let guess = wall;
  for (let i = 0; i < 2; i++) guess = wall - offsetMs(new Date(guess));
  return new Date(guess).toISOString();
}

function offsetMs(date) {
  const off = parts(date).offset;
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(off);
  if (!m) return 0;
  return (m[1] === "-" ? -1 : 1) * (+m[2] * 60 + +m[3]) * 60000;
}
