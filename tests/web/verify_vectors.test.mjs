// js/verify.js against the published known answers: ../shared/testdata/rfc6962_vectors.json (RFC 6962 leaf and
// node hashes, every inclusion proof, the transparency-dev negative cases) and signed_note_vectors.json (the
// C2SP signed-note example). test_verify_js.py passes the files' paths in the environment.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  VerifyError, bytesToHex, hexToBytes, inclusionProofLength, keyId, leafHash, nodeHash, parseCheckpoint,
  parseCheckpointBody, parseVkey, rootFromInclusionProof, verifyInclusion, verifyNoteSignature,
} from "../../api/web/js/verify.js";

const V = JSON.parse(readFileSync(process.env.ENFORCEGW_RFC6962_VECTORS, "utf8"));
const N = JSON.parse(readFileSync(process.env.ENFORCEGW_SIGNED_NOTE_VECTORS, "utf8"));
const hex = hexToBytes;

// RFC 6962 2.1: MTH by its definition (split at the largest power of two below n), to check sizes 1..8.
function largestPow2Below(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(leaves) {
  if (leaves.length === 1) return leafHash(leaves[0]);
  const k = largestPow2Below(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

// RFC 6962 2.1.1 PATH(m, D[n]).
function auditPath(m, leaves) {
  if (leaves.length === 1) return [];
  const k = largestPow2Below(leaves.length);
  return m < k ? [...auditPath(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...auditPath(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

const LEAVES = V.leaf_inputs_hex.map(hex);
const HAPPY = [...V.inclusion_proofs, ...V.derived_rfc6962_s2_1_3_example_7_leaves.inclusion_proofs];

test("leaf hashes of the eight standard inputs", () => {
  assert.deepEqual(LEAVES.map((l) => bytesToHex(leafHash(l))), V.leaf_hashes_hex);
});

test("node hashes of every complete subtree", () => {
  const levels = V.node_hashes_complete_subtrees_hex;
  for (const [below, above] of [["level0_leaves", "level1"], ["level1", "level2"], ["level2", "level3"]]) {
    const got = levels[above].map((_, i) => bytesToHex(nodeHash(hex(levels[below][2 * i]), hex(levels[below][2 * i + 1]))));
    assert.deepEqual(got, levels[above], above);
  }
});

test("roots of trees of size 1..8", () => {
  for (let n = 1; n <= 8; n++) assert.equal(bytesToHex(mth(LEAVES.slice(0, n))), V.roots_by_tree_size_hex[n], `size ${n}`);
});

for (const p of HAPPY) {
  test(`inclusion proof of leaf ${p.leaf_index} in a tree of ${p.tree_size}`, () => {
    const path = p.audit_path.map(hex);
    assert.equal(path.length, inclusionProofLength(p.leaf_index, p.tree_size));
    assert.equal(bytesToHex(rootFromInclusionProof(p.leaf_index, p.tree_size, hex(p.leaf_hash), path)), p.root);
    assert.equal(verifyInclusion(p.leaf_index, p.tree_size, hex(p.leaf_hash), path, hex(p.root)), true);
  });
}

test("every index of every tree of size 1..8 (paths built by RFC 6962 PATH)", () => {
  let checked = 0;
  for (let n = 1; n <= 8; n++) {
    for (let m = 0; m < n; m++) {
      const leaves = LEAVES.slice(0, n);
      verifyInclusion(m, n, leafHash(leaves[m]), auditPath(m, leaves), hex(V.roots_by_tree_size_hex[n]));
      checked++;
    }
  }
  assert.equal(checked, 36);
});

test("large indexes go past 32 bits", () => {
  // Leaf 2^40 of a tree of 2^40 + 1: its path is the one hash of the first 2^40 leaves.
  const size = 2 ** 40 + 1, lone = leafHash(Uint8Array.of(7)), left = hex(V.leaf_hashes_hex[0]);
  assert.equal(inclusionProofLength(size - 1, size), 1);
  verifyInclusion(size - 1, size, lone, [left], nodeHash(left, lone));
  assert.throws(() => verifyInclusion(size - 1, size, lone, [left], nodeHash(lone, left)), VerifyError);
});

// The transparency-dev negative cases (inclusion_negative_cases_note): each must fail.
function mutations(p) {
  const path = p.audit_path.map(hex), leaf = hex(p.leaf_hash), root = hex(p.root);
  const empty = hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const out = [
    ["leaf_index-1", p.leaf_index - 1, p.tree_size, leaf, path, root],
    ["leaf_index+1", p.leaf_index + 1, p.tree_size, leaf, path, root],
    ["leaf_index^2", p.leaf_index ^ 2, p.tree_size, leaf, path, root],
    ["tree_size*2", p.leaf_index, p.tree_size * 2, leaf, path, root],
    ["tree_size/2", p.leaf_index, Math.floor(p.tree_size / 2), leaf, path, root],
    ["wrong leaf hash", p.leaf_index, p.tree_size, leafHash(Uint8Array.of(0xff)), path, root],
    ["root=SHA-256('')", p.leaf_index, p.tree_size, leaf, path, empty],
    ["random root", p.leaf_index, p.tree_size, leaf, path, leafHash(Uint8Array.of(1, 2, 3))],
    ["empty element appended", p.leaf_index, p.tree_size, leaf, [...path, new Uint8Array(0)], root],
    ["empty element prepended", p.leaf_index, p.tree_size, leaf, [new Uint8Array(0), ...path], root],
    ["root appended", p.leaf_index, p.tree_size, leaf, [...path, root], root],
    ["root prepended", p.leaf_index, p.tree_size, leaf, [root, ...path], root],
  ];
  path.forEach((_, i) => {
    const flipped = path.map((h) => h.slice());
    flipped[i][0] ^= 0x08;
    out.push([`element ${i} flipped`, p.leaf_index, p.tree_size, leaf, flipped, root]);
  });
  if (path.length) out.push(["last element removed", p.leaf_index, p.tree_size, leaf, path.slice(0, -1), root]);
  return out;
}

for (const p of HAPPY) {
  test(`negative cases of leaf ${p.leaf_index} in ${p.tree_size}`, () => {
    for (const [name, ...args] of mutations(p)) {
      assert.throws(() => verifyInclusion(...args), VerifyError, name);
    }
  });
}

test("the C2SP signed-note example verifies with its verifier key", async () => {
  const key = parseVkey(N.vkey);
  assert.equal(key.name, N.key_name);
  assert.equal(bytesToHex(key.keyId), N.key_id_hex);
  assert.equal(bytesToHex(key.publicKey), N.ed25519_public_key_hex);
  assert.equal(bytesToHex(keyId(N.key_name, 0x01, key.publicKey)), N.key_id_hex);
  assert.equal(await verifyNoteSignature(N.signed_note, N.vkey), N.note_text);
});

test("the C2SP signed-note example fails when altered", async () => {
  const altered = N.signed_note.replace("example message", "exemplary message");
  await assert.rejects(verifyNoteSignature(altered, N.vkey), { code: "bad_signature" });
  const otherId = N.signed_note.replace(N.signature_line_base64, "AAAAAA" + N.signature_line_base64.slice(6));
  await assert.rejects(verifyNoteSignature(otherId, N.vkey), { code: "no_known_signature" });
});

test("the tlog-checkpoint body example parses", () => {
  const cp = parseCheckpointBody(N.checkpoint_body_example);
  assert.equal(cp.origin, "example.com/behind-the-sofa");
  assert.equal(cp.size, 20852163);
  assert.equal(cp.root.length, 32);
  assert.deepEqual(cp.extensions, []);
  assert.throws(() => parseCheckpoint(N.checkpoint_body_example), { code: "malformed" }); // no signature lines
});
