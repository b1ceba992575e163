// js/verify.js gives the verdict evidence/verify.py gives on every signed note, verifier key and checkpoint
// body in test_verify_js.py's table (ENFORCEGW_AGREEMENT: the table with Python's verdict on each).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { parseCheckpointBody, parseVkey, verifyNoteSignature } from "../../api/web/js/verify.js";

const T = JSON.parse(readFileSync(process.env.ENFORCEGW_AGREEMENT, "utf8"));

async function verdict(fn) {
  try {
    await fn();
    return "ok";
  } catch (err) {
    return `fail: ${err.message}`;
  }
}

async function agree(table, check) {
  const differ = [];
  for (const c of table) {
    const js = await verdict(() => check(c));
    if ((js === "ok") !== (c.python === "ok")) differ.push(`${c.name}: python ${c.python}; js ${js}`);
  }
  assert.deepEqual(differ, []);
  assert.ok(table.length > 5);
}

test("signed notes", () => agree(T.notes, (c) => verifyNoteSignature(c.note, c.vkey)));
test("verifier keys", () => agree(T.vkeys, (c) => parseVkey(c.vkey)));
test("checkpoint bodies", () => agree(T.bodies, (c) => parseCheckpointBody(c.text)));
