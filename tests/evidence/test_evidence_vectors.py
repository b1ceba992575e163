"""Every known answer in shared/testdata, positive and negative, through our own code."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from evidence.merkle import (
    EMPTY_ROOT,
    build_levels,
    consistency_ranges,
    inclusion_ranges,
    range_hash,
    root_from_leaf_hashes,
)
from evidence.verify import (
    VerificationError,
    key_id,
    leaf_hash,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    verify_consistency,
    verify_inclusion,
    verify_note,
)
from testkit.paths import shared_path

H = bytes.fromhex


@pytest.fixture(scope="module")
def vec() -> dict:
    return json.loads(shared_path("testdata", "rfc6962_vectors.json").read_text())


@pytest.fixture(scope="module")
def note_vec() -> dict:
    return json.loads(shared_path("testdata", "signed_note_vectors.json").read_text())


def _leaves(vec: dict) -> list[bytes]:
    return [leaf_hash(H(x)) for x in vec["leaf_inputs_hex"]]


def _gen(vec: dict, ranges: list[tuple[int, int]], size: int) -> list[str]:
    levels = build_levels(_leaves(vec)[:size])
    return [range_hash(s, e, lambda lv, p: levels[lv][p]).hex() for s, e in ranges]


def test_leaf_and_node_hashes(vec: dict) -> None:
    assert [h.hex() for h in _leaves(vec)] == vec["leaf_hashes_hex"]
    levels = build_levels(_leaves(vec))
    for i, key in enumerate(["level0_leaves", "level1", "level2", "level3"]):
        assert [h.hex() for h in levels[i]] == vec["node_hashes_complete_subtrees_hex"][key]


def test_roots_by_size(vec: dict) -> None:
    assert EMPTY_ROOT.hex() == vec["roots_by_tree_size_hex"]["0"]
    for size, root in vec["roots_by_tree_size_hex"].items():
        assert root_from_leaf_hashes(_leaves(vec)[: int(size)]).hex() == root


def _inclusion_vectors(vec: dict) -> list[dict]:
    return vec["inclusion_proofs"] + vec["derived_rfc6962_s2_1_3_example_7_leaves"]["inclusion_proofs"]


def _consistency_vectors(vec: dict) -> list[dict]:
    return vec["consistency_proofs"] + vec["derived_rfc6962_s2_1_3_example_7_leaves"]["consistency_proofs"]


def test_inclusion_proofs_generate_and_verify(vec: dict) -> None:
    for v in _inclusion_vectors(vec):
        i, n = v["leaf_index"], v["tree_size"]
        assert _gen(vec, inclusion_ranges(i, n), n) == v["audit_path"]
        verify_inclusion(i, n, H(v["leaf_hash"]), [H(p) for p in v["audit_path"]], H(v["root"]))


def _inclusion_mutations(v: dict) -> list[tuple[str, tuple]]:
    i, n, leaf, root = v["leaf_index"], v["tree_size"], H(v["leaf_hash"]), H(v["root"])
    path = [H(p) for p in v["audit_path"]]
    out = [
        ("index-1", (i - 1, n, leaf, path, root)),
        ("index+1", (i + 1, n, leaf, path, root)),
        ("index^2", (i ^ 2, n, leaf, path, root)),
        ("size*2", (i, n * 2, leaf, path, root)),
        ("size/2", (i, n // 2, leaf, path, root)),
        ("wrong leaf", (i, n, hashlib.sha256(b"x").digest(), path, root)),
        ("empty root", (i, n, leaf, path, EMPTY_ROOT)),
        ("random root", (i, n, leaf, path, hashlib.sha256(b"random").digest())),
        ("append empty", (i, n, leaf, [*path, b""], root)),
        ("prepend empty", (i, n, leaf, [b"", *path], root)),
        ("append root", (i, n, leaf, [*path, root], root)),
        ("prepend root", (i, n, leaf, [root, *path], root)),
        ("trailing garbage", (i, n, leaf, [*path[:-1], path[-1] + b"\x00"] if path else [b"\x00"], root)),
    ]
    for k in range(len(path)):
        flipped = list(path)
        flipped[k] = bytes([flipped[k][0] ^ 0x08]) + flipped[k][1:]
        out.append((f"flip element {k}", (i, n, leaf, flipped, root)))
    if path:
        out.append(("drop last", (i, n, leaf, path[:-1], root)))
    return out


def test_inclusion_negative_cases(vec: dict) -> None:
    checked = 0
    for v in _inclusion_vectors(vec):
        for name, args in _inclusion_mutations(v):
            if args[0] == v["leaf_index"] and args[1] == v["tree_size"] and name.startswith(("index", "size")):
                continue  # e.g. index^2 == index for some vectors: not a mutation
            with pytest.raises(VerificationError):
                verify_inclusion(*args)
            checked += 1
    assert checked > 100


def test_inclusion_guards() -> None:
    h = leaf_hash(b"")
    with pytest.raises(VerificationError):
        verify_inclusion(0, 0, h, [], h)  # empty tree
    verify_inclusion(0, 1, h, [], h)  # size 1: empty proof, root == leaf
    with pytest.raises(VerificationError):
        verify_inclusion(1, 1, h, [], h)  # index == size (the `>` instead of `>=` bug)


def test_consistency_proofs_generate_and_verify(vec: dict) -> None:
    for v in _consistency_vectors(vec):
        m, n = v["first"], v["second"]
        assert _gen(vec, consistency_ranges(m, n), n) == v["proof"]
        verify_consistency(m, n, H(v["first_root"]), H(v["second_root"]), [H(p) for p in v["proof"]])


def test_consistency_negative_cases(vec: dict) -> None:
    for v in _consistency_vectors(vec):
        m, n, r1, r2 = v["first"], v["second"], H(v["first_root"]), H(v["second_root"])
        proof = [H(p) for p in v["proof"]]
        bad = [
            (m, n, r2, r1, proof) if r1 != r2 else (m, n, r1, EMPTY_ROOT, proof),
            (m, n, r1, r2, [*proof, proof[0] if proof else EMPTY_ROOT]),
            (m, n, r1, r2, [EMPTY_ROOT, *proof]),
        ]
        # (No size mutations here: roots are opaque, so e.g. PROOF(2, D5) is also a well-formed proof for
        # (2, 6); the sizes are bound by the signed checkpoints, not by the proof.)
        for k in range(len(proof)):
            flipped = list(proof)
            flipped[k] = bytes([flipped[k][0] ^ 0x08]) + flipped[k][1:]
            bad.append((m, n, r1, r2, flipped))
            bad.append((m, n, r1, r2, proof[:k] + proof[k + 1 :]))
            bad.append((m, n, r1, r2, [*proof[:k], proof[k][:-1], *proof[k + 1 :]]))
        for args in bad:
            with pytest.raises(VerificationError):
                verify_consistency(*args)


def test_consistency_edge_cases(vec: dict) -> None:
    root1 = H(vec["roots_by_tree_size_hex"]["1"])
    other = H(vec["roots_by_tree_size_hex"]["2"])
    for case in vec["consistency_edge_cases"]:
        second_root = root1 if case.get("roots_equal", True) else other
        args = (case["first"], case["second"], root1, second_root, [H(p) for p in case["proof"]])
        if case["expect"] == "valid":
            verify_consistency(*args)
        else:  # includes (0, n): we follow transparency-dev, a proof from the empty tree is meaningless
            with pytest.raises(VerificationError):
                verify_consistency(*args)


def test_signed_note_vector(note_vec: dict) -> None:
    name, kid, pub = parse_vkey(note_vec["vkey"])
    assert name == note_vec["key_name"] and kid.hex() == note_vec["key_id_hex"]
    assert pub.hex() == note_vec["ed25519_public_key_hex"]
    assert key_id(name, 1, pub).hex() == note_vec["key_id_hex"]
    assert verify_note(note_vec["signed_note"], [note_vec["vkey"]]) == note_vec["note_text"]
    text, sigs = parse_note(note_vec["signed_note"])
    assert text == note_vec["note_text"]
    assert base64.b64encode(sigs[0][1] + sigs[0][2]).decode() == note_vec["signature_line_base64"]


def test_signed_note_negative(note_vec: dict) -> None:
    note, vkey = note_vec["signed_note"], note_vec["vkey"]
    with pytest.raises(VerificationError):  # text changed
        verify_note(note.replace("example message", "example massage"), [vkey])
    sig = note_vec["signature_line_base64"]
    blob = bytearray(base64.b64decode(sig))
    blob[10] ^= 1
    with pytest.raises(VerificationError, match="does not verify"):  # known key, bad signature
        verify_note(note.replace(sig, base64.b64encode(bytes(blob)).decode()), [vkey])
    other = "other.example/key+" + vkey.split("+", 1)[1]
    with pytest.raises(VerificationError):  # key id no longer matches the name
        parse_vkey(other)
    unknown = note.replace("example.com/foo", "example.com/bar")
    with pytest.raises(VerificationError, match="no signature by a known key"):
        verify_note(unknown, [vkey])
    with pytest.raises(VerificationError):  # no blank line
        verify_note(note.replace("\n\n", "\n"), [vkey])
    with pytest.raises(VerificationError):  # control character
        verify_note("This is\ran example message.\n" + note[len(note_vec["note_text"]):], [vkey])


def test_checkpoint_body_example(note_vec: dict) -> None:
    origin, size, root, ext = parse_checkpoint(note_vec["checkpoint_body_example"])
    assert (origin, size, ext) == ("example.com/behind-the-sofa", 20852163, [])
    assert len(root) == 32
    for bad in ["a\n01\n" + base64.b64encode(root).decode() + "\n", "a\n1\n" + "AAAA\n", "a\n1\n"]:
        with pytest.raises(VerificationError):
            parse_checkpoint(bad)
