// The console's only way to the gateway: JSON requests with the bearer token of this tab, the live stream of
// alert changes, and refusals put into words. A 401 on any request made with a token means the token is no
// longer good: `window` gets an "enforcegw:unauthorized" event and the page returns to sign-in.

import { fmtTime, has, label, t } from "./i18n.js";

const TOKEN_KEY = "enforcegw.token";
const STALL_MS = 45000; // three missed heartbeats (the server sends one every 15 s)
const MAX_BACKOFF_MS = 30000;

export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function unauthorized() {
  window.dispatchEvent(new CustomEvent("enforcegw:unauthorized"));
}

function url(path, params) {
  const u = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, String(v));
  }
  return u.pathname + u.search;
}

function authHeaders(extra = {}) {
  const token = storedToken();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

async function errorFrom(r) {
  let body = null;
  try {
    body = await r.json();
  } catch {
    // not the API's JSON error (a proxy's page): the status says it
  }
  const e = body && body.error ? body.error : {};
  const err = new ApiError(r.status, e.code || `http_${r.status}`, e.message || r.statusText, e.field || null);
  const retry = r.headers.get("Retry-After");
  if (retry) err.retryAfter = Number(retry);
  if (r.status === 401 && storedToken()) unauthorized();
  return err;
}

async function send(method, path, { params, body, accept = "application/json" } = {}) {
  const headers = authHeaders({ Accept: accept });
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(url(path, params), init);
  } catch (exc) {
    throw new ApiError(0, "network", String(exc && exc.message ? exc.message : exc));
  }
  if (!r.ok) throw await errorFrom(r);
  return r;
}

export const api = {
  token() {
    return storedToken();
  },
  signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token.trim());
  },
  signOut() {
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // nothing stored
    }
  },
  async get(path, params) {
    const r = await send("GET", path, { params });
    return r.json();
  },
  async post(path, body) {
    const r = await send("POST", path, { body });
    const text = await r.text();
    return text ? JSON.parse(text) : null;
  },
  async getText(path, params) {
    const r = await send("GET", path, { params, accept: "text/plain, */*" });
    return r.text();
  },

  /** Follow /api/alerts/stream from `lastEventId` (null: from now on). EventSource cannot send a bearer
   * token, so this reads the response body itself and reconnects with Last-Event-ID after any break. */
  stream(lastEventId, onEvent, onState = () => {}) {
    let last = lastEventId === undefined ? null : lastEventId;
    let closed = false;
    let controller = null;
    let timer = null;
    let base = 1000;
    let delay = base;

    const dispatch = (ev) => {
      if (ev.id !== null) last = ev.id;
      if (!ev.data.length) return;
      let data;
      try {
        data = JSON.parse(ev.data.join("\n"));
      } catch {
        return; // not an alert change: nothing this page can show
      }
      try {
        onEvent({ id: ev.id, type: ev.type || "message", data });
      } catch (exc) {
        console.error("stream event handler failed", exc);
      }
    };

    const connect = async () => {
      if (closed) return;
      controller = new AbortController();
      let watchdog = null;
      const arm = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => controller.abort(), STALL_MS);
      };
      let stop = false;
      try {
        const headers = authHeaders({ Accept: "text/event-stream" });
        if (last !== null) headers["Last-Event-ID"] = String(last);
        arm();
        const r = await fetch("/api/alerts/stream", { headers, signal: controller.signal, cache: "no-store" });
        if (r.status === 401 || r.status === 403) {
          stop = true;
          if (r.status === 401) unauthorized();
          onState("stopped");
          return;
        }
        if (r.status === 400) last = null; // an id this server never sent (another database): start from now
        if (!r.ok) throw new Error(`stream answered ${r.status}`);
        onState("live");
        delay = base;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        let ev = { id: null, type: null, data: [] };
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          arm();
          buf += value;
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            let line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.endsWith("\r")) line = line.slice(0, -1);
            if (line === "") {
              dispatch(ev);
              ev = { id: null, type: null, data: [] };
              continue;
            }
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            let val = colon < 0 ? "" : line.slice(colon + 1);
            if (val.startsWith(" ")) val = val.slice(1);
            if (field === "id") ev.id = /^\d+$/.test(val) ? Number(val) : null;
            else if (field === "event") ev.type = val;
            else if (field === "data") ev.data.push(val);
            else if (field === "retry" && /^\d+$/.test(val)) base = Math.max(500, Number(val));
          }
        }
      } catch {
        // a break, a stall or close(): reconnect below unless closed
      } finally {
        clearTimeout(watchdog);
        if (!closed && !stop) {
          onState("reconnecting");
          const wait = delay * (0.75 + Math.random() * 0.5);
          delay = Math.min(delay * 2, MAX_BACKOFF_MS);
          timer = setTimeout(connect, wait);
        }
      }
    };

    connect();
    return {
      close() {
        closed = true;
        clearTimeout(timer);
        if (controller) controller.abort();
      },
      lastEventId() {
        return last;
      },
    };
  },
};

function quoted(message, re) {
  const m = re.exec(message || "");
  return m ? m : null;
}

/** A refusal in the reader's language: the server's code picks the words, its message fills in who and when
 * (and is shown as it is when the code is one these files do not know). */
export function refusalText(err) {
  if (!(err instanceof ApiError)) {
    return t("error.unexpected", { message: String(err && err.message ? err.message : err) });
  }
  const message = err.message || "";
  switch (err.code) {
    case "claimed_by_other": {
      const m = quoted(message, /claimed by (['"])(.*)\1 until (\S+)$/);
      if (m) return t("error.claimed_by_other", { name: m[2], until: fmtTime(m[3]).text });
      break;
    }
    case "inadmissible": {
      const m = quoted(message, /admissible as evidence: (.+?)(?:; it can| which the override)/);
      const reasons = m ? m[1].replace(/,$/, "").split(", ").map((r) => label("inadmissible", r)).join(t("list.sep"))
        : "";
      const by = quoted(message, /the override by (['"])(.*?)\1/);
      if (by) return t("error.inadmissible_uncovered", { reasons, name: by[2] });
      return t("error.inadmissible", { reasons });
    }
    case "rate_limited": {
      const m = quoted(message, /retry in (\d+) s/);
      return t("error.rate_limited", { seconds: m ? m[1] : err.retryAfter || "?" });
    }
    case "already_overridden": {
      const m = quoted(message, /overridden by (['"])(.*?)\1/);
      return t("error.already_overridden", { name: m ? m[2] : "" });
    }
    default:
      break;
  }
  const params = { message, field: err.field || "", status: err.status };
  if (has(`error.${err.code}`)) return t(`error.${err.code}`, params);
  if (has(`error.status.${err.status}`)) return t(`error.status.${err.status}`, params);
  return message || t("error.unexpected", params);
}
