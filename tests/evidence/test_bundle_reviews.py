"""Review decisions in a bundle: manifest.json and README.txt list them for people, and the verifier holds both
lists, and each review's references to the alert's entries, to the signed review entries."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import evidence.verify
from evidence.bundle import export_bundle
from evidence.entry import Entry
from evidence.log import EvidenceLog
from evidence.verify import VerificationError, leaf_hash, verify_bundle
from testkit.evidence_helpers import entry, make_log

pytestmark = pytest.mark.integration

CODE = "440605-20260701-0001"
T = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
Members = dict[str, bytes]


def review(decision: str, refs: list[tuple[int, str, str]], who: str = "li.ming", role: str = "operator",
           status: str = "in_review", **detail: object) -> Entry:
    """A review entry shaped as a decision writes it: reviewer, decision, the alert's entries by leaf hash."""
    return Entry(entry_type="review", device_id=f"operator:{who}", capture_time=T, time_source="gateway",
                 refs=[i for i, _, _ in refs],
                 payload={"clue_code": CODE, "alert_id": 7, "decision": decision, "status": status,
                          "time": T.isoformat(), "reviewer": {"token_id": 3, "name": who, "role": role},
                          "alert_evidence": [{"index": i, "role": r, "leaf_hash": h} for i, r, h in refs],
                          **detail})


@pytest.fixture
def log(db_url: str, tmp_path: Path) -> Iterator[EvidenceLog]:
    with make_log(db_url, tmp_path / "data") as lg:
        yield lg


@pytest.fixture
def reviewed(log: EvidenceLog, tmp_path: Path) -> tuple[Path, list[int]]:
    """An alert's open entry, other traffic, and claim + dismiss on it; the bundle of the alert's entries."""
    opened = log.append(entry("noise-1", payload={"event": "alert_open", "clue_code": CODE}))
    log.append_many([entry(f"cam-{i}") for i in range(3)])
    ref = [(opened.index, "open", opened.leaf_hash.hex())]
    claim = log.append(review("claim", ref, lease_s=600.0))
    dismiss = log.append(review("dismiss", ref, status="dismissed", reason="lawful_activity",
                                text="permit NH-2026-118 covers the night pour\nsee the permit register"))
    out = tmp_path / "alert.zip"
    summary = export_bundle(log, [opened.index, claim.index, dismiss.index], out, purpose="p", producer="p")
    assert (summary.entries, summary.reviews) == (3, 2)
    return out, [claim.index, dismiss.index]


def test_the_decisions_are_listed_for_people(reviewed: tuple[Path, list[int]], log: EvidenceLog) -> None:
    bundle, (claim, dismiss) = reviewed
    with zipfile.ZipFile(bundle) as z:
        manifest = json.loads(z.read("manifest.json"))
        readme = z.read("README.txt").decode()
    assert [(r["index"], r["decision"], r["reviewer"], r["role"], r["status"]) for r in manifest["reviews"]] == [
        (claim, "claim", "li.ming", "operator", "in_review"), (dismiss, "dismiss", "li.ming", "operator", "dismissed")]
    assert manifest["reviews"][1]["details"]["reason"] == "lawful_activity"
    listing = readme[readme.index("Review decisions (2)"):]
    assert f"{T.isoformat()}  dismiss of alert {CODE} by li.ming (role operator, token 3)" in listing
    assert f"status after: dismissed; entry entries/{dismiss}.json; on the alert's entries 0" in listing
    assert "      reason: lawful_activity\n" in listing
    # free text keeps to one line, so a line break in it cannot pass for another field
    assert '      text: "permit NH-2026-118 covers the night pour\\nsee the permit register"\n' in listing
    report = verify_bundle(bundle, log.vkey)
    said = f"review entry {claim}: claim of alert {CODE} by li.ming (operator) at {T.isoformat()}, lease_s 600"
    assert said in report
    assert "2 review decisions: manifest.json and README.txt list them as the entries say" in report


def test_a_bundle_without_reviews_lists_none(log: EvidenceLog, tmp_path: Path) -> None:
    log.append(entry("cam-1"))
    out = export_bundle(log, [0], tmp_path / "plain.zip", purpose="p", producer="p").path
    with zipfile.ZipFile(out) as z:
        assert json.loads(z.read("manifest.json"))["reviews"] == []
        assert "\nReview decisions" not in z.read("README.txt").decode()
    assert not any("review" in line for line in verify_bundle(out, log.vkey))


def _manifest(m: Members, change: Callable[[dict], None]) -> None:
    doc = json.loads(m["manifest.json"])
    change(doc)
    m["manifest.json"] = json.dumps(doc).encode()


def _rehash(m: Members) -> None:
    """The careful forger: the manifest's hashes of files and entries made to match what it now holds."""
    def fix(doc: dict) -> None:
        doc["files"] = {name: hashlib.sha256(m[name]).hexdigest() for name in doc["files"]}
        for item in doc["entries"]:
            item["sha256"] = hashlib.sha256(m[item["file"]]).hexdigest()
            item["leaf_hash"] = leaf_hash(m[item["file"]]).hex()
    _manifest(m, fix)


def _readme(old: str, new: str) -> Callable[[Members, list[int]], None]:
    def forge(m: Members, _reviews: list[int]) -> None:
        m["README.txt"] = m["README.txt"].replace(old.encode(), new.encode())
        _rehash(m)
    return forge


def _listed(change: Callable[[list], None]) -> Callable[[Members, list[int]], None]:
    def forge(m: Members, _reviews: list[int]) -> None:
        _manifest(m, lambda d: change(d["reviews"]))
        _rehash(m)
    return forge


def _decision_in_entry(careful: bool) -> Callable[[Members, list[int]], None]:
    """The dismissal rewritten as a confirmation inside the entry bytes (and, carefully, everywhere else)."""
    def forge(m: Members, reviews: list[int]) -> None:
        name = f"entries/{reviews[1]}.json"
        m[name] = m[name].replace(b'"decision":"dismiss"', b'"decision":"confirm"')
        if careful:
            _manifest(m, lambda d: d["reviews"][1].update(decision="confirm"))
            m["README.txt"] = m["README.txt"].replace(b"dismiss of alert", b"confirm of alert")
            _rehash(m)
    return forge


# forgery -> the item the failure names ({claim}/{dismiss}: the review entries' indexes)
FORGERIES: dict[str, tuple[Callable[[Members, list[int]], None], str]] = {
    "review entry bytes edited": (_decision_in_entry(False), "entries/{dismiss}.json"),
    "review entry edited, hashes and lists made to match": (_decision_in_entry(True), "proofs/{dismiss}.tlog-proof"),
    "README lists another decision": (_readme("dismiss of alert", "confirm of alert"), "README.txt"),
    "README lists another reviewer": (_readme("by li.ming (role operator", "by wang.fang (role supervisor"),
                                      "README.txt"),
    "README lists no decisions": (_readme("Review decisions (2)", "Notes (2)"), "README.txt"),
    "manifest lists another decision": (_listed(lambda r: r[1].update(decision="confirm")), "manifest.json"),
    "manifest lists another time": (_listed(lambda r: r[0].update(time="2026-07-01T09:00:00+00:00")),
                                    "manifest.json"),
    "manifest drops a decision": (_listed(lambda r: r.pop()), "manifest.json"),
    "manifest adds a decision": (_listed(lambda r: r.append({**r[0], "index": 99})), "manifest.json"),
}


@pytest.mark.parametrize("what", list(FORGERIES))
def test_forged_review_listings_fail_naming_the_item(what: str, reviewed: tuple[Path, list[int]],
                                                     log: EvidenceLog, tmp_path: Path) -> None:
    bundle, reviews = reviewed
    forge, item = FORGERIES[what]
    item = item.format(claim=reviews[0], dismiss=reviews[1])
    with zipfile.ZipFile(bundle) as z:
        m = {name: z.read(name) for name in z.namelist()}
    forge(m, reviews)
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as z:
        for name, data in m.items():
            z.writestr(name, data)
    with pytest.raises(VerificationError) as caught:
        verify_bundle(forged, log.vkey)
    assert caught.value.item == item, caught.value
    r = subprocess.run([sys.executable, evidence.verify.__file__, str(forged), "--vkey", log.vkey],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout.startswith(f"FAIL {item}:"), r.stdout + r.stderr


def test_a_review_naming_an_entry_by_another_leaf_hash_fails(log: EvidenceLog, tmp_path: Path) -> None:
    opened = log.append(entry("noise-1"))
    wrong = log.append(review("claim", [(opened.index, "open", "00" * 32)]))
    out = export_bundle(log, [opened.index, wrong.index], tmp_path / "b.zip", purpose="p", producer="p").path
    with pytest.raises(VerificationError, match=f"refers to entry {opened.index} by leaf hash 0000") as caught:
        verify_bundle(out, log.vkey)
    assert caught.value.item == f"entry {wrong.index} (entries/{wrong.index}.json)"
