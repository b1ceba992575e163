// Entries of a real evidence log, as GET /api/evidence/entries/{i} gives them (ENFORCEGW_LOG_FIXTURE, written
// by test_verify_js.py), verify in js/verify.js; each kind of tampering fails and names its step.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { b64decode, b64encode, bytesToHex, leafHash, parseCheckpoint, verifyEntry } from "../../api/web/js/verify.js";

const F = JSON.parse(readFileSync(process.env.ENFORCEGW_LOG_FIXTURE, "utf8"));
const MESSAGES = Object.fromEntries(["zh", "en"].map((lang) => [lang, JSON.parse(readFileSync(
  new URL(`../../api/web/i18n/${lang}/verify.json`, import.meta.url), "utf8"))]));
const seen = new Set(); // step.code of every step any test below produced: each must have words in both languages

async function verified(args) {
  const r = await verifyEntry(args);
  for (const s of r.steps) seen.add(`verify.${s.step}.${s.code}`);
  return r;
}

function input(e, change = {}) {
  return { entryB64: e.entry, index: e.index, proof: structuredClone(e.proof), vkey: F.vkey, leafHash: e.leaf_hash,
    ...change };
}

function flipByte(b64, at) {
  const bytes = b64decode(b64);
  bytes[at % bytes.length] ^= 0x01;
  return b64encode(bytes);
}

const withProof = (e, edit) => {
  const proof = structuredClone(e.proof);
  edit(proof);
  return { proof };
};

test("every entry verifies, each step passing", async () => {
  for (const e of F.entries) {
    const r = await verified(input(e));
    assert.equal(r.ok, true, JSON.stringify(r.steps));
    assert.equal(r.failed, null);
    assert.deepEqual(r.steps.map((s) => [s.step, s.ok]), [["key", true], ["signature", true], ["hash", true],
      ["inclusion", true]]);
  }
});

test("the public checkpoint is the one the proofs are against", () => {
  const cp = parseCheckpoint(F.checkpoint);
  assert.equal(cp.size, F.entries[0].proof.size);
  assert.equal(b64encode(cp.root), F.entries[0].proof.root);
});

// [what is changed, how, the step named, its code (or the codes it may be: another index may want another length)]
const TAMPERING = [
  ["an entry byte", (e) => ({ entryB64: flipByte(e.entry, 17) }), "hash", "mismatch"],
  ["the last entry byte", (e) => ({ entryB64: flipByte(e.entry, -1 >>> 0) }), "hash", "mismatch"],
  ["an entry byte and the stated leaf hash with it", (e) => {
    const entryB64 = flipByte(e.entry, 17);
    return { entryB64, leafHash: bytesToHex(leafHash(b64decode(entryB64))) };
  }, "inclusion", "root_differs"],
  ["the entry's base64", (e) => ({ entryB64: e.entry.slice(1) }), "hash", "not_base64"],
  ["a proof node", (e) => withProof(e, (p) => { p.path[0] = flipByte(p.path[0], 3); }), "inclusion", "root_differs"],
  ["the last proof node", (e) => withProof(e, (p) => { p.path[p.path.length - 1] = flipByte(p.path.at(-1), 31); }),
    "inclusion", "root_differs"],
  ["a proof node dropped", (e) => withProof(e, (p) => { p.path.pop(); }), "inclusion", "wrong_length"],
  ["a proof node that is not a hash", (e) => withProof(e, (p) => { p.path[0] = b64encode(new Uint8Array(31)); }),
    "inclusion", "not_hash"],
  ["the proof's size", (e) => withProof(e, (p) => { p.size += 1; }), "inclusion", "size_mismatch"],
  ["the proof's root", (e) => withProof(e, (p) => { p.root = flipByte(p.root, 0); }), "inclusion", "root_mismatch"],
  ["another index in the tree", (e) => ({ index: (e.index + 1) % e.proof.size }), "inclusion",
    ["root_differs", "wrong_length"]],
  ["the index past the tree", (e) => ({ index: e.proof.size }), "inclusion", "not_in_tree"],
  ["the checkpoint's size", (e) => withProof(e, (p) => { p.checkpoint = p.checkpoint.replace(`\n${p.size}\n`,
    `\n${p.size + 1}\n`); }), "signature", "bad_signature"],
  ["the checkpoint's root", (e) => withProof(e, (p) => {
    const [o, s, root, ...rest] = p.checkpoint.split("\n");
    p.checkpoint = [o, s, flipByte(root, 5), ...rest].join("\n");
  }), "signature", "bad_signature"],
  ["the checkpoint's signature", (e) => withProof(e, (p) => {
    const lines = p.checkpoint.split("\n");
    const [dash, name, sig] = lines.at(-2).split(" ");
    lines[lines.length - 2] = [dash, name, flipByte(sig, 40)].join(" ");
    p.checkpoint = lines.join("\n");
  }), "signature", "bad_signature"],
  ["the checkpoint's blank line", (e) => withProof(e, (p) => { p.checkpoint = p.checkpoint.replace("\n\n", "\n"); }),
    "signature", "malformed"],
  ["a checkpoint the log signed for another origin", (e) => withProof(e, (p) => {
    p.checkpoint = F.foreign_origin_checkpoint; }), "key", "origin"],
  ["another key under the log's name", () => ({ vkey: F.other_key_same_name }), "key", "not_signer"],
  ["another log's key", () => ({ vkey: F.other_log_key }), "key", "not_signer"],
  ["the published key's id", () => ({ vkey: F.vkey.replace(/\+[0-9a-f]{8}\+/, "+00000000+") }), "key",
    "key_id_mismatch"],
  ["the published key cut short", () => ({ vkey: F.vkey.slice(0, -1) }), "key", "bad_vkey"],
  ["no proof", () => ({ proof: null }), "signature", "no_proof"],
];

for (const [what, change, step, code] of TAMPERING) {
  test(`altered: ${what} -> ${step} fails`, async () => {
    for (const e of F.entries) {
      const r = await verified(input(e, change(e)));
      assert.equal(r.ok, false);
      assert.equal(r.failed, step, JSON.stringify(r.steps));
      const named = r.steps.find((s) => s.step === step);
      assert.ok([code].flat().includes(named.code), JSON.stringify(named));
      assert.ok(r.steps.slice(0, r.steps.indexOf(named)).every((s) => s.ok === true), JSON.stringify(r.steps));
    }
  });
}

test("a pending entry (not yet in a checkpoint) does not verify", async () => {
  const r = await verified({ entryB64: F.pending.entry, index: F.pending.index, proof: F.pending.proof,
    vkey: F.vkey, leafHash: F.pending.leaf_hash });
  assert.equal(r.ok, false);
  assert.deepEqual(r.steps.map((s) => [s.step, s.ok]), [["key", true], ["signature", false], ["hash", true],
    ["inclusion", false]]);
});

test("every step's outcome above has words in zh and en", () => {
  assert.ok(seen.size >= 20, [...seen].join(" "));
  for (const [lang, messages] of Object.entries(MESSAGES)) {
    assert.deepEqual([...seen].filter((key) => !(key in messages)), [], lang);
  }
});
