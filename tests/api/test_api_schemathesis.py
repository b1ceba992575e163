"""schemathesis against /api/openapi.json of a real gateway (real PostgreSQL, real MQTT, real HTTP): every
operation in the document, each called with a token of a role its `x-roles` allows, answers no 5xx, and its
status codes, content types, headers and bodies are the ones documented; nonsense is refused with a 4xx,
state-changing routes included. Operations are read from the document, so a new route is fuzzed as soon as it
is routed. The stream cannot be fuzzed (it never ends): one call reads the events it has and checks each."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import psycopg
import pytest
import schemathesis
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field
from schemathesis import Case, GenerationMode, Response
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.errors import ApiError, parse_query
from api.models import AlertChangeOut
from api.openapi import build_document
from api.routes import RouteTable
from api.server import make_mount
from api.stream import AlertChangeEvent
from evidence.entry import Entry
from testkit.alert_scenes import LEGAL, NOISE, ended, levels, night_base, setup_site
from testkit.databases import create_database, drop_database
from testkit.gateway_harness import Publisher
from testkit.read_api import add_alert
from testkit.threaded_api import ThreadedApi, threaded_api_gateway

pytestmark = pytest.mark.integration

STREAM = "/api/alerts/stream"
EXAMPLES = 15  # per operation and generation mode; derandomized: the same cases in the same order every run
T0 = datetime(2026, 7, 1, 15, 0, tzinfo=UTC)


@dataclass
class Live:
    """The running gateway and what is in its store, so that cases can name things that exist."""

    threaded: ThreadedApi
    db_url: str
    tokens: dict[str, str]  # role -> secret
    known: dict[str, list[Any]] = field(default_factory=dict)  # parameter or field name -> values that exist

    @property
    def base(self) -> str:
        return self.threaded.api.base

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _seed_alerts(live: Live) -> None:
    """Beside the alert the detectors opened and ended: one alert in each state a reviewer can meet."""
    api = live.threaded.api
    log = api.gw.evidence
    assert log is not None
    claimed = {"status": "in_review", "claimed_by_token": api.token_ids["operator"],
               "claimed_by_name": "test-operator", "claim_expires_at": datetime.now(UTC) + timedelta(days=1)}
    states: dict[str, dict[str, Any]] = {
        "F-NEW": {}, "F-CLAIMED": claimed, "F-CONFIRMED": {"status": "confirmed"},
        "F-DISMISSED": {"status": "dismissed"},
        "F-INADMISSIBLE": {"admissible": False, "inadmissible_reasons": ["calibration_expired"]},
        "F-QUALITY": {"category": "quality_exceedance"},
        "F-MANUAL": {"source": "manual", "kind": "manual_report", "detail": {}},
    }
    with psycopg.connect(live.db_url) as conn:
        for i, (code, cols) in enumerate(states.items()):
            with conn.transaction():
                (opened,) = log.append_with(conn, [Entry(entry_type="evidence", device_id=NOISE["id"],
                                                         capture_time=T0, payload={"clue_code": code})])
                add_alert(conn, code, NOISE["id"], T0 + timedelta(minutes=i), evidence_open_idx=opened.index,
                          **cols)


def _known(live: Live, sizes: list[int]) -> dict[str, list[Any]]:
    """Values that exist, in a fixed order: the cases drawn from them, and so the whole run, repeat exactly."""
    api = live.threaded.api
    with psycopg.connect(live.db_url) as conn:
        codes = [r[0] for r in conn.execute("SELECT clue_code FROM alerts ORDER BY id")]
        media = [m["sha256"] for (entry,) in conn.execute(
            "SELECT convert_from(entry, 'UTF8')::jsonb FROM evidence_entries WHERE idx < %s ORDER BY idx",
            (sizes[-1],)) for m in entry.get("media", [])]
    assert codes and media, (codes, media)
    checkpoints = [str(n) for n in sizes]
    return {"clue_code": codes, "alert": codes, "index": [str(i) for i in range(sizes[-1])], "size": checkpoints,
            "first": checkpoints, "second": checkpoints, "sha256": media,
            "reason": list(api.gw.settings.api.review.dismiss_reasons),
            "token_id": [api.token_ids["operator"], api.token_ids["supervisor"]],
            "ts": [(night_base() + timedelta(hours=2)).isoformat()]}


def _wait(done: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def live(pg_server_url: str, migrated_template: str, mqtt_url: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    db_url = create_database(pg_server_url, "enforcegw_t", migrated_template)
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    # The fuzzer probes every protected route without a token and with bad ones, all from one address: the
    # brake on guessing would soon answer everything 429 and leave the rest of the run untested.
    mount = make_mount(auth_failure_limit=1_000_000)
    try:
        setup_site(db_url, {**NOISE, **LEGAL})
        with threaded_api_gateway(tmp, db_url, mqtt_url, mount=mount) as threaded:
            # the device role's token is a registered device's, so that its readings can be stored
            tokens = {**threaded.api.tokens, "device": threaded.api.new_token("device", NOISE["id"])[1]}
            found = Live(threaded, db_url, tokens)
            pub = Publisher(mqtt_url)
            try:  # a real alert, opened and ended by the detectors, with its window readings as media
                pub.publish_all(levels(NOISE["id"], "LAeq", night_base(), [(22, 66.0), (30, 40.0)]))
            finally:
                pub.close()
            _wait(lambda: ended(db_url), "the detectors' alert ended")
            log = threaded.api.gw.evidence
            assert log is not None
            first = log.checkpoint().size
            _seed_alerts(found)
            second = log.checkpoint().size  # for consistency proofs, and covering every entry so far
            found.known = _known(found, [first, second])
            yield found
    finally:
        drop_database(pg_server_url, db_url)


@pytest.fixture(scope="module")
def api_schema(live: Live) -> BaseSchema:
    # Tokens are the test's to choose (a role allowed on each operation): generated Authorization headers would
    # only spend the examples on 401s.
    config = schemathesis.Config.from_dict({"request-timeout": 30, "generation": {
        "with-security-parameters": False, "deterministic": True, "database": "none"}})
    return schemathesis.openapi.from_url(f"{live.base}/api/openapi.json", config=config)


def _roles(operation: APIOperation) -> list[str]:
    return list(operation.definition.raw.get("x-roles", []))


def _name_what_exists(case: Case, data: st.DataObject, known: dict[str, list[Any]]) -> None:
    """Aim a valid case's parameters and body fields at things that exist about half the time: random values
    almost never name an alert, an entry or a token, and what a route does with one that exists is what most
    needs fuzzing."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return  # a case meant to be invalid stays invalid
    for where in (case.path_parameters, case.query, case.body):
        if not isinstance(where, dict):
            continue
        for name in sorted(where):
            values = known.get(name)
            if values and data.draw(st.booleans(), label=f"existing {name}"):
                where[name] = data.draw(st.sampled_from(values), label=name)


def _report(case: Case, response: Response, failures: Sequence[BaseException], headers: dict[str, str]) -> str:
    lines = [f"{getattr(f, 'code', type(f).__name__)} {getattr(f, 'title', '')}: {getattr(f, 'message', f)}"
             for f in failures]
    body = response.content[:600].decode(errors="replace")
    return "\n".join([*lines, f"answered {response.status_code}: {body}",
                      f"request: {case.as_curl_command(headers=headers)}"])


def _failures(case: Case, response: Response, headers: dict[str, str], **checks: Any) -> str | None:
    """What schemathesis' checks found wrong with one response, as a report; None when nothing."""
    try:
        case.validate_response(response, headers=headers, **checks)
    except BaseExceptionGroup as group:  # the distinct failures of this one response
        return _report(case, response, group.exceptions, headers)
    except AssertionError as failure:
        return _report(case, response, [failure], headers)
    return None


def _refusal(response: Response) -> tuple[int, str]:
    try:
        return response.status_code, str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return response.status_code, ""


def _multipart(operation: APIOperation) -> bool:
    """A multipart body's parts are bytes whatever the schema says of them: a "negative" case that makes a photo
    part a boolean sends the four bytes `true`, which the route rightly takes as a (non-JPEG) photo."""
    return "multipart/form-data" in operation.get_request_payload_content_types()


def _fuzz(operation: APIOperation, live: Live, refused: dict[tuple[int, str], str]) -> None:
    """EXAMPLES valid and EXAMPLES invalid cases of one operation, each sent with a token of an allowed role:
    the first response that breaks the document fails here; valid requests answered as invalid (the document
    promises more than the route takes) are collected in `refused` and the fuzzing goes on."""
    roles = _roles(operation)
    assert roles, f"{operation.label} documents no x-roles"
    cases = operation.as_strategy(GenerationMode.POSITIVE)
    if not _multipart(operation):
        cases = st.one_of(cases, operation.as_strategy(GenerationMode.NEGATIVE))

    @hypothesis.settings(max_examples=2 * EXAMPLES, deadline=None, derandomize=True, database=None,
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate], print_blob=False,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(case=cases, data=st.data())
    def one(case: Case, data: st.DataObject) -> None:
        headers = {} if roles == ["public"] else live.bearer(data.draw(st.sampled_from(roles), label="role"))
        _name_what_exists(case, data, live.known)
        response = case.call(base_url=live.base, headers=headers)
        broken = _failures(case, response, headers, excluded_checks=[positive_data_acceptance])
        if broken is not None:
            raise AssertionError(broken)
        rejected = _failures(case, response, headers, checks=[positive_data_acceptance])
        if rejected is not None:
            refused.setdefault(_refusal(response), rejected)  # the first case of each kind of refusal

    one()


# Refusals of schema-valid requests that a schema cannot prevent, each with why; any other is a document that
# promises more than its route takes.
BEYOND_SCHEMA: dict[tuple[str, int, str], str] = {
    ("GET /api/evidence/consistency", 400, "bad_range"):
        "first must not exceed second: a relation between two parameters, which JSON Schema cannot state",
    ("POST /api/ingest/readings", 422, "bad_timestamp"):
        "the accepted times move with the clock (ingest.max_future_skew_s) and epoch values are seconds or "
        "milliseconds by magnitude, as over MQTT",
    ("POST /api/ingest/readings", 422, "wrong_type"):
        "seq is an integer written without a fraction, as over MQTT; JSON Schema counts 1.0 as an integer",
}


def test_every_operation_answers_as_documented(api_schema: BaseSchema, live: Live,
                                               subtests: pytest.Subtests) -> None:
    """Two subtests per operation in the served document (the stream apart), so every failing one shows: its
    answers are as documented, and it takes what the document says it takes."""
    fuzzed = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.path == STREAM:
            continue
        fuzzed.append(operation.label)
        refused: dict[tuple[int, str], str] = {}
        with subtests.test(msg=f"{operation.label} answers as documented"):
            _fuzz(operation, live, refused)
        with subtests.test(msg=f"{operation.label} accepts what the document calls valid"):
            unexpected = {k: v for k, v in refused.items() if (operation.label, *k) not in BEYOND_SCHEMA}
            assert not unexpected, "\n\n".join(unexpected.values())
    assert len(fuzzed) >= 15, fuzzed


def test_the_stream_is_event_stream_and_each_event_as_documented(api_schema: BaseSchema, live: Live) -> None:
    """Not fuzzed (a stream never ends): read from the start by each allowed role, cut once every change has
    come, each event checked by schemathesis against the document and its data against the change model."""
    with psycopg.connect(live.db_url) as conn:
        (changes,) = conn.execute("SELECT count(*) FROM alert_changes").fetchone() or (0,)
    assert changes > 0
    api_schema.config.max_stream_events = changes
    operation = api_schema[STREAM]["GET"]
    for role in _roles(operation):
        case = operation.Case(headers={**live.bearer(role), "Last-Event-ID": "0"})
        response = case.call_and_validate()
        assert response.headers["content-type"][0].startswith("text/event-stream"), role
        events = [e for e in _sse_blocks(response.content.decode()) if "data" in e]
        assert [int(e["id"]) for e in events] == sorted({int(e["id"]) for e in events})
        assert len(events) == changes, role
        for event in events:
            change = AlertChangeOut.model_validate_json(event["data"])
            assert (str(change.id), change.type) == (event["id"], event["event"])


def _sse_blocks(text: str) -> Iterator[dict[str, str]]:
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        if fields:
            yield fields


class _EntryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=0, description="an entry's index")
    size: int | None = Field(None, ge=0, description="a checkpoint size")


async def _nothing(_request: web.Request) -> web.Response:
    return web.Response()


def _document() -> dict[str, Any]:
    table = RouteTable()
    table.add("GET", "/api/x/{index}", _nothing, roles={"auditor"}, summary="typed path", request=_EntryQuery)
    table.add("GET", "/api/y/{sha:[0-9a-f]{64}}", _nothing, roles={"auditor"}, summary="regex path")
    table.add("GET", "/api/z/{code}", _nothing, roles={"auditor"}, summary="plain path")
    table.add("GET", "/api/events", _nothing, roles={"auditor"}, summary="stream", response=AlertChangeEvent)
    return build_document(table)


PARAMETERS = [
    ("/api/x/{index}", [("index", "path", True, {"type": "integer", "minimum": 0}),
                        ("size", "query", False, None)]),
    ("/api/y/{sha}", [("sha", "path", True, {"type": "string", "pattern": "^(?:[0-9a-f]{64})$"})]),
    ("/api/z/{code}", [("code", "path", True, {"type": "string"})]),
]


@pytest.mark.parametrize(("path", "want"), PARAMETERS)
def test_path_parameters_are_typed_by_the_request_model_or_the_route_pattern(path: str, want: list) -> None:
    got = _document()["paths"][path]["get"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in got] == [w[:3] for w in want]
    for p, (*_, schema) in zip(got, want, strict=True):
        if schema is not None:
            assert {k: p["schema"][k] for k in schema} == schema, p


def test_the_stream_is_documented_as_events_whose_data_is_the_change() -> None:
    ok = _document()["paths"]["/api/events"]["get"]["responses"]["200"]["content"]
    assert list(ok) == ["text/event-stream"]
    event = ok["text/event-stream"]["schema"]
    assert event["required"] == ["id", "event", "data"]
    assert event["properties"]["data"]["contentSchema"] == {"$ref": "#/components/schemas/AlertChangeEvent"}


QUERIES = [
    ("/api/x/7?size=3", {"index": "7"}, {"index": 7, "size": 3}),
    ("/api/x/7?size=3&size=4", {"index": "7"}, {"index": 7, "size": 3}),
    ("/api/x/7?index=9", {"index": "7"}, {"index": 7, "size": None}),  # the path names the entry
]


@pytest.mark.parametrize(("url", "match", "want"), QUERIES)
def test_a_query_model_reads_the_path_parameters_it_names(url: str, match: dict[str, str],
                                                          want: dict[str, Any]) -> None:
    request = make_mocked_request("GET", url, match_info={**match, "unnamed": "x"})
    assert parse_query(request, _EntryQuery).model_dump() == want


def test_a_path_parameter_the_model_refuses_is_a_422_naming_it() -> None:
    with pytest.raises(ApiError) as refused:
        parse_query(make_mocked_request("GET", "/api/x/a", match_info={"index": "a"}), _EntryQuery)
    assert (refused.value.status, refused.value.field) == (422, "index")
