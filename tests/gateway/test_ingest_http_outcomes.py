"""The writer tells each message that carries a reply what became of it, after its batch committed: stored,
duplicate or dead letter (with the dead letter's reason and detail), on a real PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.ingest_writer import Outcome, _Batch
from ingest.mqtt import RawMessage
from testkit.gateway_harness import register
from testkit.ingest_writer_harness import WriterHarness

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
TOPIC = "enf/sensor/d1/reading"


def body(seq: int | None, value: float, t: datetime = T0, **extra: object) -> bytes:
    doc: dict[str, object] = {"ts": t.isoformat(), "readings": {"LAeq": value, "LCpeak": value + 20}, **extra}
    if seq is not None:
        doc["seq"] = seq
    return json.dumps(doc).encode()


@pytest.fixture
def harness(db_url: str) -> Iterator[WriterHarness]:
    register(db_url, "d1")
    h = WriterHarness(db_url, accept_unknown=False)
    yield h
    h.close()


class Replies:
    def __init__(self) -> None:
        self.got: dict[str, list[Outcome]] = {}

    def message(self, name: str, payload: bytes, *, topic: str = TOPIC,
                refusal: tuple[str, str] | None = None) -> RawMessage:
        return RawMessage(topic, payload, 0, 0, time.time(), reply=lambda o: self.got.setdefault(name, []).append(o),
                          refusal=refusal)


def flush(h: WriterHarness, *messages: RawMessage) -> None:
    b = _Batch()
    for m in messages:
        h.writer._take(m, b)
    h.writer._flush(b)


# name, payload, topic, refusal, expected (result, rows, reason); the batch is flushed after one storing seq 1
# at value 50 and an unsequenced reading at T0 - 1 min.
CASES = [
    ("new", body(2, 51.0), TOPIC, None, ("stored", 2, "")),
    ("repeat of seq 1", body(1, 50.0), TOPIC, None, ("duplicate", 2, "")),
    ("repeat without seq", body(None, 40.0, T0 - timedelta(minutes=1)), TOPIC, None, ("duplicate", 2, "")),
    ("seq 1, other value", body(1, 99.0), TOPIC, None, ("dead_letter", 0, "conflict")),
    ("not json", b"{nope", TOPIC, None, ("dead_letter", 0, "invalid_json")),
    ("unknown device", body(1, 50.0), "enf/sensor/ghost/reading", None, ("dead_letter", 0, "unknown_device")),
    ("refused before parsing", body(3, 52.0), TOPIC, ("oversize", "HTTP body over the limit"),
     ("dead_letter", 0, "oversize")),
]


@pytest.mark.parametrize(("name", "payload", "topic", "refusal", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_message_is_told_its_outcome_after_commit(harness: WriterHarness, name: str, payload: bytes,
                                                       topic: str, refusal: tuple[str, str] | None,
                                                       expected: tuple[str, int, str]) -> None:
    r = Replies()
    flush(harness, r.message("seed", body(1, 50.0)),
          r.message("seed-no-seq", body(None, 40.0, T0 - timedelta(minutes=1))))
    assert [o.result for o in r.got["seed"] + r.got["seed-no-seq"]] == ["stored", "stored"]
    # beside it in the batch: messages without a reply (MQTT) and one new one with a reply
    flush(harness, harness.message(TOPIC, body(10, 1.0)), r.message(name, payload, topic=topic, refusal=refusal),
          r.message("other", body(11, 1.0)), harness.message(TOPIC, b"[]"))
    (outcome,) = r.got[name]
    assert (outcome.result, outcome.rows, outcome.reason) == expected
    assert [o.result for o in r.got["other"]] == ["stored"]
    stored = harness.rows("SELECT count(*) FROM readings WHERE device_id = 'd1' AND seq = 1")[0][0]
    assert stored == 2, "seq 1 stays stored once, with its first values"
    dead = [d for d in harness.dead() if d[3] == payload]
    if outcome.result == "dead_letter":
        ((d_topic, reason, detail, _payload),) = dead
        assert (d_topic, reason, detail) == (topic, outcome.reason, outcome.detail) and detail
    else:
        assert dead == []


def test_copies_in_one_batch_and_a_failing_reply(harness: WriterHarness) -> None:
    r = Replies()
    same = body(5, 55.0)

    def broken(_o: object) -> None:
        raise RuntimeError("the waiting side is gone")

    flush(harness, r.message("first", same), r.message("copy", same),
          RawMessage(TOPIC, body(6, 56.0), 0, 0, time.time(), reply=broken), r.message("after", body(7, 57.0)))
    assert [o.result for o in r.got["first"]] == ["stored"]
    assert [o.result for o in r.got["copy"]] == ["duplicate"]
    assert [o.result for o in r.got["after"]] == ["stored"], "a reply that raises does not stop the others"
    assert harness.rows("SELECT count(*) FROM readings WHERE seq IN (5, 6, 7)")[0][0] == 6
    assert harness.hooked and len(harness.hooked[-1][0]) == 6, "the stored hooks still run"
