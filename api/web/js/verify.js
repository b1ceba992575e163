// Evidence verification in the page: RFC 6962 hashing, RFC 9162 inclusion proofs, C2SP signed notes and
// checkpoints, Ed25519 signatures. Pure functions, no DOM: the same module runs in the browser and in node.
// It mirrors evidence/verify.py (the verifier that travels in every export bundle) rule for rule, so the
// console and an auditor's offline check agree on every input.
//
// SHA-256 and SHA-512 come from the vendored @noble/hashes and Ed25519 from @noble/ed25519, never from
// crypto.subtle: WebCrypto exists only in secure contexts, and a bureau's LAN address is not one.

import { sha256, sha512 } from "../vendor/noble-hashes/sha2.js";
import * as ed from "../vendor/noble-ed25519/index.js";

ed.hashes.sha512 = sha512;

export const ED25519_TYPE = 0x01;
export const MAX_SIGNATURES = 100; // c2sp.org/signed-note asks verifiers to accept at least 16
const EM_DASH = "\u2014";
const CONTROL = /[\x00-\x1f]/; // no control characters in key names
const NOTE_CONTROL = /[\x00-\x09\x0b-\x1f]/; // a note may hold newlines, no other control characters
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const encoder = new TextEncoder();

/** A check failed: `item` names what (as verify.py does), `code` is a stable word for the reason. */
export class VerifyError extends Error {
  constructor(item, code, message, params = {}) {
    super(`${item}: ${message}`);
    this.item = item;
    this.code = code;
    this.reason = message;
    this.params = params;
  }
}

// ---------------------------------------------------------------- bytes

export function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new VerifyError("hex", "not_hex", "not a hex string");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Strict base64 (the standard alphabet, padded), as Python's b64decode(validate=True) reads it. */
export function b64decode(text, what = "base64") {
  if (typeof text !== "string" || !B64.test(text)) throw new VerifyError(what, "not_base64", "not base64");
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// ---------------------------------------------------------------- RFC 6962 hashing and inclusion proofs

export function leafHash(bytes) {
  return sha256(concat(Uint8Array.of(0x00), bytes));
}

export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(0x01), left, right));
}

// Every hash is exactly 32 bytes: this rejects empty, truncated and garbage-padded elements.
function hash32(h, what) {
  if (!(h instanceof Uint8Array) || h.length !== 32) throw new VerifyError(what, "not_hash", "not a 32-byte hash");
  return h;
}

function bitLength(n) {
  return n === 0n ? 0 : n.toString(2).length;
}

function popCount(n) {
  return [...n.toString(2)].filter((c) => c === "1").length;
}

// Indexes and sizes go through BigInt: JavaScript's bit operators cut numbers to 32 bits.
function big(n, what) {
  if (typeof n === "bigint") return n;
  if (!Number.isSafeInteger(n)) throw new VerifyError(what, "not_integer", "not an integer");
  return BigInt(n);
}

export function inclusionProofLength(index, size) {
  const i = big(index, "index");
  const inner = bitLength(i ^ (big(size, "size") - 1n));
  return inner + popCount(i >> BigInt(inner));
}

/** RFC 9162 2.1.3.2 with the transparency-dev guards: the root the path leads to, or a VerifyError. */
export function rootFromInclusionProof(index, size, leaf, path) {
  const what = `inclusion proof (${index}, ${size})`;
  let fn = big(index, what), sn = big(size, what);
  hash32(leaf, what + " leaf hash");
  path.forEach((p) => hash32(p, what + " element"));
  if (sn <= 0n || fn < 0n || fn >= sn) throw new VerifyError(what, "not_in_tree", "leaf index not inside the tree");
  const want = inclusionProofLength(fn, sn);
  if (path.length !== want) {
    throw new VerifyError(what, "wrong_length", `wrong proof length ${path.length}, want ${want}`,
      { length: path.length, want });
  }
  sn -= 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) throw new VerifyError(what, "too_long", "proof too long");
    if (fn & 1n || fn === sn) {
      r = nodeHash(p, r);
      if (!(fn & 1n)) {
        while (!(fn & 1n) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError(what, "root_differs", "computed root does not match");
  return r;
}

/** True, or a VerifyError saying why the path does not lead from the leaf to `root`. */
export function verifyInclusion(index, size, leaf, path, root) {
  const what = `inclusion proof (${index}, ${size})`;
  hash32(root, what + " root");
  const got = rootFromInclusionProof(index, size, leaf, path);
  if (!equalBytes(got, root)) {
    throw new VerifyError(what, "root_differs", "computed root does not match", { computed: b64encode(got) });
  }
  return true;
}

// ---------------------------------------------------------------- C2SP signed notes and checkpoints

export function keyId(name, typeByte, publicKey) {
  return sha256(concat(encoder.encode(name), Uint8Array.of(0x0a, typeByte), publicKey)).slice(0, 4);
}

function checkKeyName(name) {
  if (!name || name.includes(" ") || name.includes("+") || CONTROL.test(name)) {
    throw new VerifyError("key name", "bad_key_name", `invalid key name ${JSON.stringify(name)}`, { name });
  }
}

/** `<name>+<hex key id>+base64(0x01 || pubkey)` -> {name, keyId, publicKey}. */
export function parseVkey(vkey) {
  const text = String(vkey ?? "").trim();
  const a = text.indexOf("+"), b = a < 0 ? -1 : text.indexOf("+", a + 1); // base64 may itself contain "+"
  if (b < 0 || !/^[0-9a-fA-F]*$/.test(text.slice(a + 1, b)) || (b - a - 1) % 2) {
    throw new VerifyError("verifier key", "bad_vkey", "not <name>+<keyid>+<base64>");
  }
  const name = text.slice(0, a);
  const kid = hexToBytes(text.slice(a + 1, b));
  let raw;
  try {
    raw = b64decode(text.slice(b + 1));
  } catch {
    throw new VerifyError("verifier key", "bad_vkey", "not <name>+<keyid>+<base64>");
  }
  checkKeyName(name);
  if (kid.length !== 4 || raw.length !== 33 || raw[0] !== ED25519_TYPE) {
    throw new VerifyError("verifier key", "not_ed25519", "not an Ed25519 (type 0x01) signed-note key");
  }
  const publicKey = raw.slice(1);
  if (!equalBytes(keyId(name, ED25519_TYPE, publicKey), kid)) {
    throw new VerifyError("verifier key", "key_id_mismatch", "key id does not match name and public key");
  }
  return { name, keyId: kid, publicKey };
}

/** A signed note -> {text (ending in \n), signatures: [{name, keyId, sig}]}. */
export function parseNote(note) {
  if (typeof note !== "string" || !note.endsWith("\n") || NOTE_CONTROL.test(note)) {
    throw new VerifyError("signed note", "malformed", "malformed (must end in newline, no control characters)");
  }
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0) throw new VerifyError("signed note", "malformed", "no blank line before the signatures");
  const text = note.slice(0, cut + 1);
  const lines = note.slice(cut + 2).split("\n");
  lines.pop(); // the note ends in a newline
  if (!lines.length || lines.length > MAX_SIGNATURES) {
    throw new VerifyError("signed note", "malformed", "no signature lines or too many");
  }
  const signatures = lines.map((line) => {
    const parts = line.split(" ");
    if (parts.length !== 3 || parts[0] !== EM_DASH) {
      throw new VerifyError("signed note", "malformed", `malformed signature line ${JSON.stringify(line)}`);
    }
    checkKeyName(parts[1]);
    let blob;
    try {
      blob = b64decode(parts[2]);
    } catch {
      throw new VerifyError("signed note", "malformed", "signature is not base64");
    }
    if (blob.length < 5) throw new VerifyError("signed note", "malformed", "signature too short");
    return { name: parts[1], keyId: blob.slice(0, 4), sig: blob.slice(4) };
  });
  return { text, signatures };
}

/** A C2SP tlog-checkpoint body -> {origin, size, root, extensions}. */
export function parseCheckpointBody(text) {
  const lines = text.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "" || lines.slice(0, -1).some((l) => !l)) {
    throw new VerifyError("checkpoint", "malformed", "needs at least 3 non-empty lines, each ending in newline");
  }
  const [origin, sizeText, rootB64] = lines;
  if (!/^[0-9]+$/.test(sizeText) || (sizeText !== "0" && sizeText.startsWith("0"))) {
    throw new VerifyError("checkpoint", "bad_size", `bad tree size ${JSON.stringify(sizeText)}`);
  }
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new VerifyError("checkpoint", "bad_size", "tree size too large");
  let root;
  try {
    root = b64decode(rootB64);
  } catch {
    throw new VerifyError("checkpoint", "malformed", "root hash is not base64");
  }
  return { origin, size, root: hash32(root, "checkpoint root"), extensions: lines.slice(3, -1) };
}

/** A signed checkpoint note -> {origin, size, root, extensions, text, signatures}. Checks no signature. */
export function parseCheckpoint(noteText) {
  const { text, signatures } = parseNote(noteText);
  return { ...parseCheckpointBody(text), text, signatures };
}

/** The note's text when `vkey` signed it. Other keys' lines are ignored (witnesses, rotation); a line by this
 * key whose signature fails rejects the note, as verify.py's verify_note does. */
export async function verifyNoteSignature(noteText, vkey) {
  const key = parseVkey(vkey);
  const { text, signatures } = parseNote(noteText);
  const message = encoder.encode(text);
  let verified = 0;
  for (const s of signatures) {
    if (s.name !== key.name || !equalBytes(s.keyId, key.keyId)) continue;
    let ok = false;
    try {
      ok = s.sig.length === 64 && ed.verify(s.sig, message, key.publicKey, { zip215: false });
    } catch {
      ok = false;
    }
    if (!ok) throw new VerifyError("signed note", "bad_signature", `signature by ${s.name} does not verify`,
      { name: s.name });
    verified++;
  }
  if (!verified) throw new VerifyError("signed note", "no_known_signature", "no signature by a known key");
  return text;
}

// ---------------------------------------------------------------- one evidence entry, step by step

export const STEPS = ["key", "signature", "hash", "inclusion"];

function step(name, ok, code, detail, params = {}) {
  return { step: name, ok, code, detail, params };
}

function failed(name, err) {
  return step(name, false, err.code ?? "error", err.reason ?? String(err), err.params ?? {});
}

const notChecked = (name, because) => step(name, null, "not_checked", `not checked: the ${because} step failed`,
  { because });

function keyStep(vkey, note) {
  let key;
  try {
    key = parseVkey(vkey);
  } catch (err) {
    return [step("key", false, err.code, err.reason), null];
  }
  const id = bytesToHex(key.keyId);
  const base = { name: key.name, key_id: id };
  let cp;
  try {
    cp = parseCheckpoint(note);
  } catch {
    return [step("key", true, "valid", `the published key ${key.name} ${id} is well-formed`, base), key];
  }
  if (!cp.signatures.some((s) => s.name === key.name && equalBytes(s.keyId, key.keyId))) {
    const signers = cp.signatures.map((s) => `${s.name} ${bytesToHex(s.keyId)}`).join(", ");
    return [step("key", false, "not_signer", `the checkpoint is signed by ${signers}, not by the published key `
      + `${key.name} ${id}`, { ...base, signers }), null];
  }
  if (cp.origin !== key.name) {
    return [step("key", false, "origin", `the checkpoint is for log ${JSON.stringify(cp.origin)}, the published `
      + `key is log ${JSON.stringify(key.name)}'s`, { ...base, origin: cp.origin }), null];
  }
  return [step("key", true, "ok", `the checkpoint names the published key ${key.name} ${id}`, base), key];
}

function hashStep(entryB64, stated) {
  let bytes;
  try {
    bytes = b64decode(entryB64, "entry");
  } catch (err) {
    return [failed("hash", err), null];
  }
  const lh = leafHash(bytes);
  const hex = bytesToHex(lh);
  for (const want of stated) {
    if (String(want).toLowerCase() !== hex) {
      return [step("hash", false, "mismatch", `the entry's ${bytes.length} bytes hash to ${hex}, the stated leaf `
        + `hash is ${want}`, { computed: hex, stated: want, bytes: bytes.length }), lh];
    }
  }
  return [step("hash", true, stated.length ? "ok" : "computed", `the entry's ${bytes.length} bytes hash to ${hex}`,
    { computed: hex, bytes: bytes.length }), lh];
}

function inclusionStep(index, proof, cp, lh) {
  const params = { index, size: cp.size };
  if (proof.size !== undefined && proof.size !== cp.size) {
    return step("inclusion", false, "size_mismatch", `the proof is for tree size ${proof.size}, the checkpoint's `
      + `is ${cp.size}`, { ...params, proof_size: proof.size });
  }
  if (proof.root !== undefined && proof.root !== b64encode(cp.root)) {
    return step("inclusion", false, "root_mismatch", "the proof's root is not the checkpoint's root", params);
  }
  try {
    const path = (proof.path ?? []).map((p) => b64decode(p, "proof element"));
    verifyInclusion(index, cp.size, lh, path, cp.root);
  } catch (err) {
    return step("inclusion", false, err.code ?? "error", err.reason ?? String(err), { ...params, ...err.params });
  }
  return step("inclusion", true, "ok", `entry ${index} is in the tree of size ${cp.size} the checkpoint signs`,
    params);
}

/**
 * Verify one evidence entry as GET /api/evidence/entries/{index} gives it, against the published key:
 * `{entryB64, index, proof: {size, root, path, checkpoint}, vkey, leafHash}` (leafHash: the stated hex leaf
 * hash, or several, e.g. the API's and the alert's). Every step is reported in the order of STEPS, each
 * `{step, ok, code, detail, params}` with ok true, false, or null when an earlier failure left nothing to check;
 * `failed` names the first step that failed (null when `ok`).
 */
export async function verifyEntry({ entryB64, index, proof, vkey, leafHash: stated = [] }) {
  const note = proof?.checkpoint;
  const [key, signer] = keyStep(vkey, note ?? "");
  let signature, cp = null;
  if (!proof || typeof note !== "string") {
    signature = step("signature", false, "no_proof", "no signed checkpoint came with the entry");
  } else {
    try {
      cp = parseCheckpoint(note);
    } catch (err) {
      signature = failed("signature", err);
    }
    if (cp && !signer) {
      signature = notChecked("signature", "key");
    } else if (cp) {
      try {
        await verifyNoteSignature(note, vkey);
        signature = step("signature", true, "ok", `the Ed25519 signature of checkpoint ${cp.size} by ${signer.name} `
          + "verifies", { size: cp.size, name: signer.name });
      } catch (err) {
        signature = failed("signature", err);
      }
    }
  }
  const [hash, lh] = hashStep(entryB64, [stated].flat().filter((h) => h !== undefined && h !== null));
  let inclusion;
  if (!proof) inclusion = step("inclusion", false, "no_proof", "no inclusion proof came with the entry");
  else if (!lh) inclusion = notChecked("inclusion", "hash");
  else if (!cp) inclusion = notChecked("inclusion", "signature");
  else inclusion = inclusionStep(index, proof, cp, lh);
  const steps = [key, signature, hash, inclusion];
  const first = steps.find((s) => s.ok === false);
  return { ok: !first && steps.every((s) => s.ok === true), failed: first ? first.step : null, steps };
}
