"""The pure parts of case tasks: routing, field mapping, expiring links, the Chinese summary, the schema."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.cases.config import CasesConfig, CaseSystem, MatchRule
from gateway.cases.links import LinkRefused, LinkSigner, bundle_path, media_path, verify_link
from gateway.cases.mapping import MappingError, apply_mapping, check_mapping, lookup, schema_paths
from gateway.cases.outbox import encode_body, webhook_id
from gateway.cases.routing import TaskKey, destinations
from gateway.cases.summary import summary_zh
from gateway.cases.task import task_schema

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
KEY = TaskKey(subject="440605", item="NH-NOISE-01", kind="construction_noise", source="sensor")


def _system(name: str, *rules: dict, enabled: bool = True) -> CaseSystem:
    return CaseSystem(name=name, url="http://127.0.0.1:1/", secret=SECRET, match=[MatchRule(**r) for r in rules],
                      enabled=enabled)


@pytest.mark.parametrize(("systems", "expected"), [
    ([_system("all")], ["all"]),
    ([_system("city", {"subjects": ["440605"]}), _system("water", {"kinds": ["water_quality"]})], ["city"]),
    ([_system("a", {"kinds": ["dust"]}, {"items": ["NH-NOISE-01"]})], ["a"]),  # rules are alternatives
    ([_system("a", {"subjects": ["440605"], "sources": ["video"]})], []),  # fields within a rule all hold
    ([_system("off", enabled=False), _system("on")], ["on"]),
    ([_system("eco", {"subjects": ["440604"]})], []),  # unrouted
])
def test_routing(systems: list[CaseSystem], expected: list[str]) -> None:
    assert [s.name for s in destinations(systems, KEY)] == expected


@pytest.mark.parametrize(("entry", "field"), [
    ({"name": "a", "url": "http://x", "secret": "s3cret"}, "secret"),
    ({"name": "a", "url": "http://x", "secret": "whsec_" + base64.b64encode(b"short").decode()}, "secret"),
    ({"name": "a", "url": "http://x", "secret": "whsec_not base64!"}, "secret"),
    ({"name": "a", "url": "ftp://x", "secret": SECRET}, "url"),
    ({"name": "a b", "url": "http://x", "secret": SECRET}, "name"),
    ({"name": "a", "url": "http://x", "secret": SECRET, "mapping": {"发现地点": "place.adress"}}, "mapping"),
    ({"name": "a", "url": "http://x", "secret": SECRET, "match": [{}]}, "match"),
    ({"name": "a", "url": "http://x", "secret": SECRET, "retries": 3}, "retries"),
])
def test_config_errors_name_the_field(entry: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        CasesConfig.model_validate({"systems": [entry]})
    assert field in str(err.value)


def test_minimal_entry_and_rotation() -> None:
    one = CaseSystem.model_validate({"name": "a", "url": "https://x", "secret": SECRET})
    assert one.secret == [SECRET] and one.timeout_s == 15.0 and one.mapping is None
    two = CaseSystem.model_validate({"name": "a", "url": "https://x", "secret": [SECRET, SECRET[:-4] + "AAA="]})
    assert len(two.secret) == 2


def test_duplicate_system_names_refused() -> None:
    with pytest.raises(ValidationError, match="unique"):
        CasesConfig.model_validate({"systems": [{"name": "a", "url": "http://x", "secret": SECRET}] * 2})


DOC = {"clue_code": "440605-20261202-0001", "place": {"address": "桂城街道", "zone": None},
       "subject": {"code": "440605", "name": "南海区综合行政执法局"}, "proof": {"metric": "LAeq"}}


@pytest.mark.parametrize(("mapping", "expected"), [
    (None, DOC),
    ({"案源编号": "clue_code", "发现地点": "place.address", "执法主体": "subject.name"},
     {"案源编号": "440605-20261202-0001", "发现地点": "桂城街道", "执法主体": "南海区综合行政执法局"}),
    ({"案源来源": "=非现场执法", "区域": "place.zone.name"}, {"案源来源": "非现场执法", "区域": None}),
    ({"指标": "proof.metric"}, {"指标": "LAeq"}),
])
def test_apply_mapping(mapping: dict | None, expected: dict) -> None:
    assert apply_mapping(DOC, mapping) == expected


@pytest.mark.parametrize("path", ["clue_code", "place.zone.name", "evidence.entries", "proof.peak_value",
                                  "item.legal_basis", "reviews", "=literal"])
def test_known_paths(path: str) -> None:
    check_mapping({"f": path})


@pytest.mark.parametrize("path", ["clue", "place.adress", "subject.code.x", "evidence.entries.index", ""])
def test_unknown_paths_are_named(path: str) -> None:
    with pytest.raises(MappingError, match=repr(path)):
        check_mapping({"字段": path})


def test_every_schema_path_resolves_in_a_document() -> None:
    assert {"subject.name", "item.legal_basis", "times.start", "evidence.bundle_url"} <= schema_paths()
    assert lookup({"a": {"b": 1}}, "a.b") == 1 and lookup({"a": None}, "a.b") is None


def test_schema_is_draft_2020_12_with_an_id() -> None:
    schema = task_schema()
    assert schema["$schema"].endswith("2020-12/schema") and schema["$id"].endswith("/task/v1.json")
    assert {"task_id", "clue_code", "subject", "evidence", "reviews", "summary"} <= set(schema["required"])


KEY_BYTES = b"\x01" * 32


@given(sha=st.text("0123456789abcdef", min_size=64, max_size=64), ttl=st.integers(1, 10**7))
def test_links_verify_until_they_expire(sha: str, ttl: int) -> None:
    signer = LinkSigner(KEY_BYTES, "https://gw.example", ttl)
    exp = signer.expiry(1_800_000_000)
    url = signer.media(sha, exp)
    path, _, query = url.removeprefix("https://gw.example").partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    assert path == media_path(sha)
    verify_link(KEY_BYTES, path, params["exp"], params["sig"], now=exp - 1)
    with pytest.raises(LinkRefused) as late:
        verify_link(KEY_BYTES, path, params["exp"], params["sig"], now=exp)
    assert late.value.code == "expired"


@pytest.mark.parametrize(("path", "exp", "sig", "code"), [
    (bundle_path("X-2"), "1900000000", None, "malformed"),
    (bundle_path("X-2"), "19e9", "abc", "malformed"),
    (bundle_path("X-2"), "1900000001", "SIG", "bad_signature"),  # exp altered
    (bundle_path("X-3"), "1900000000", "SIG", "bad_signature"),  # path altered
    (bundle_path("X-2"), "1900000000", "SIG", None),
])
def test_altered_links_refused(path: str, exp: str, sig: str | None, code: str | None) -> None:
    good = LinkSigner(KEY_BYTES, "http://h", 1).bundle("X-2", 1_900_000_000).split("sig=")[1]
    sig = good if sig == "SIG" else sig
    if code is None:
        verify_link(KEY_BYTES, path, exp, sig, now=0)
        return
    with pytest.raises(LinkRefused) as refused:
        verify_link(KEY_BYTES, path, exp, sig, now=0)
    assert refused.value.code == code
    with pytest.raises(LinkRefused):  # and another key never verifies a good link
        verify_link(b"\x02" * 32, bundle_path("X-2"), "1900000000", good, now=0)


def test_webhook_ids_stable_per_task_and_destination() -> None:
    assert webhook_id("T-1", "city") == webhook_id("T-1", "city")
    assert len({webhook_id("T-1", "city"), webhook_id("T-1", "water"), webhook_id("T-2", "city")}) == 3
    assert encode_body({"b": 1, "a": "中"}) == '{"a":"中","b":1}'.encode()


TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("proof", "item", "expected"), [
    ({"metric": "LAeq", "unit": "dB(A)", "averaging": "leq", "window_s": 1200, "peak_value": 63.2,
      "limit_value": 55, "standard": "GB 12523-2011", "clause": "4.1"}, None,
     "2026年12月01日23时10分至2026年12月01日23时40分，桂城工地，设备N1发现疑似建筑施工噪声超标。"
     "LAeq20分钟等效声级最高63.2dB(A)，超过GB 12523-2011 4.1规定的限值55dB(A)。"),
    ({}, "夜间施工噪声扰民",
     "2026年12月01日23时10分至2026年12月01日23时40分，桂城工地，设备N1发现疑似夜间施工噪声扰民。"),
])
def test_summary_zh(proof: dict, item: str | None, expected: str) -> None:
    start = datetime(2026, 12, 1, 15, 10, tzinfo=UTC)
    end = datetime(2026, 12, 1, 15, 40, tzinfo=UTC)
    assert summary_zh(kind="construction_noise", start=start, end=end, place="桂城工地", device="N1",
                      proof=proof, item_name=item, tz=TZ) == expected
