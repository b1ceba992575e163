"""Topic routing and the single entry point the MQTT consumer calls: `parse_message`.

    enf/sensor/{id}/reading        -> sensor         readings
    enf/drone/{id}/pose            -> pose           poses
    enf/device/{id}/status         -> device_status  records (DeviceStatus)
    thing/product/{sn}/osd|state   -> dji_osd        poses (0 or 1) + records (DjiDeviceState)
    thing/product/{sn}/drc/up      -> dji_drc        poses (osd_info_push) or records (DjiDrcRecord)
    thing/product/{sn}/events      -> dji_event      records (DjiEvent)
    sys/product/{sn}/status        -> dji_status     records (DjiTopology)

Prefixes are parameters of `Router` (config may change them, including multi-level prefixes such as
`site1/enf/sensor`). The id segment must match `[A-Za-z0-9_.:-]{1,64}` (`bad_device_id`). A topic that
matches no route is `unknown_topic`. `parse_message` raises `PayloadError` and nothing else for any payload
bytes; the caller turns it into a `DeadLetter(topic, e.reason, e.detail, payload, received_at)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest.decode import DEFAULT_LIMITS, DEVICE_ID_RE, ParseLimits, decode_json, short, type_name
from ingest.dji.events import parse_dji_drc, parse_dji_event, parse_dji_status
from ingest.dji.osd import parse_dji_osd
from ingest.dji.state import DockStateMerger
from ingest.models import PayloadError, Pose, Reading
from ingest.payloads import parse_generic_pose, parse_sensor_reading
from ingest.timestamps import check_future, check_received_at, parse_timestamp

__all__ = [
    "KINDS",
    "DeviceStatus",
    "ParsedMessage",
    "Route",
    "Router",
    "parse_device_status",
    "parse_message",
]

KINDS = ("sensor", "pose", "device_status", "dji_osd", "dji_drc", "dji_event", "dji_status")


@dataclass(frozen=True, slots=True)
class Route:
    kind: str  # one of KINDS
    device_id: str  # device id / SN from the topic (the gateway SN for drc, events and status)
    topic: str
    sub: str | None = None  # "osd" | "state" for dji_osd


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """`enf/device/{id}/status`: online/offline (usually the MQTT last will)."""

    device_id: str
    online: bool
    time: datetime  # payload `ts` when given, else received_at (a broker-published last will has no clock)
    time_source: str  # "payload" | "received_at"
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    route: Route
    readings: list[Reading] = field(default_factory=list)
    poses: list[Pose] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)  # DeviceStatus, DjiDeviceState, DjiEvent, ...

    @property
    def kind(self) -> str:
        return self.route.kind


def _split_prefix(prefix: str) -> tuple[str, ...]:
    parts = tuple(prefix.strip("/").split("/"))
    if not prefix.strip("/") or any(p in ("", "+", "#") for p in parts):
        raise ValueError(f"bad topic prefix {prefix!r}")
    return parts


_Entry = tuple[tuple[str, ...], tuple[str, ...], str, "str | None"]


class Router:
    """Resolves topic strings to a `Route`. Immutable after construction; cheap to call per message."""

    def __init__(
        self,
        *,
        sensor_prefix: str = "enf/sensor",
        drone_prefix: str = "enf/drone",
        device_prefix: str = "enf/device",
        dji_thing_prefix: str = "thing/product",
        dji_sys_prefix: str = "sys/product",
        cache_size: int = 100_000,
    ) -> None:
        # topic -> Route for valid topics only (invalid ones raise and are not cached); topics repeat per device
        self._cache: dict[str, Route] = {}
        self._cache_size = cache_size
        # (prefix parts, suffix parts, kind, sub); the id is the single segment between prefix and suffix.
        table = [
            (_split_prefix(sensor_prefix), ("reading",), "sensor", None),
            (_split_prefix(drone_prefix), ("pose",), "pose", None),
            (_split_prefix(device_prefix), ("status",), "device_status", None),
            (_split_prefix(dji_thing_prefix), ("osd",), "dji_osd", "osd"),
            (_split_prefix(dji_thing_prefix), ("state",), "dji_osd", "state"),
            (_split_prefix(dji_thing_prefix), ("drc", "up"), "dji_drc", None),
            (_split_prefix(dji_thing_prefix), ("events",), "dji_event", None),
            (_split_prefix(dji_sys_prefix), ("status",), "dji_status", None),
        ]
        # index by (total segment count, last segment) for an O(1)-ish lookup
        self._index: dict[tuple[int, str], list[_Entry]] = {}
        for pre, suf, kind, sub in table:
            key = (len(pre) + 1 + len(suf), suf[-1])
            self._index.setdefault(key, []).append((pre, suf, kind, sub))

    def resolve(self, topic: str) -> Route:
        route = self._cache.get(topic)
        if route is not None:
            return route
        route = self._resolve(topic)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()  # bounded: a flood of distinct (bogus) topics cannot grow memory
        self._cache[topic] = route
        return route

    def _resolve(self, topic: str) -> Route:
        if type(topic) is not str:
            raise PayloadError("unknown_topic", f"topic must be a string, got {type(topic).__name__}")
        parts = topic.split("/")
        candidates = self._index.get((len(parts), parts[-1]))
        if candidates:
            for pre, suf, kind, sub in candidates:
                n = len(pre)
                if tuple(parts[:n]) == pre and tuple(parts[n + 1 :]) == suf:
                    dev = parts[n]
                    if DEVICE_ID_RE.fullmatch(dev) is None:
                        raise PayloadError(
                            "bad_device_id",
                            f"device id {short(dev)} in topic {short(topic)} does not match "
                            "[A-Za-z0-9_.:-]{1,64}",
                        )
                    return Route(kind, dev, topic, sub)
        raise PayloadError("unknown_topic", f"no route for topic {short(topic, 200)}")


DEFAULT_ROUTER = Router()


def parse_device_status(
    device_id: str, payload: bytes, received_at: datetime, limits: ParseLimits = DEFAULT_LIMITS
) -> DeviceStatus:
    """Accepts a bare `online`/`offline` (typical last-will payload), a JSON string `"online"`, or
    `{"status": "online"|"offline", "ts": optional}`. Anything else is `bad_value` / `wrong_type` / ..."""
    check_received_at(received_at)
    if len(payload) > limits.max_bytes:
        raise PayloadError("oversize", f"payload is {len(payload)} bytes, limit is {limits.max_bytes}")
    raw = bytes(payload).strip()
    if raw in (b"online", b"offline"):
        return DeviceStatus(device_id, raw == b"online", received_at, "received_at", received_at)
    obj = decode_json(payload, limits.max_bytes)
    t, source = received_at, "received_at"
    if type(obj) is str:
        status = obj
    elif type(obj) is dict:
        if "status" not in obj or obj["status"] is None:
            raise PayloadError("missing_field", "status is missing")
        status = obj["status"]
        if type(status) is not str:
            raise PayloadError(
                "wrong_type", f"status must be a string, got {type_name(status)} {short(status)}"
            )
        if obj.get("ts") is not None:
            t = parse_timestamp(obj["ts"], "ts", limits)
            check_future(t, received_at, limits.max_future_skew_s, "ts")
            source = "payload"
    else:
        raise PayloadError(
            "not_an_object", f"status payload must be online/offline or an object, got {type_name(obj)}"
        )
    if status not in ("online", "offline"):
        raise PayloadError("bad_value", f"status = {short(status)} must be 'online' or 'offline'")
    return DeviceStatus(device_id, status == "online", t, source, received_at)


def parse_message(
    topic: str,
    payload: bytes,
    received_at: datetime,
    limits: ParseLimits = DEFAULT_LIMITS,
    *,
    router: Router = DEFAULT_ROUTER,
    merger: DockStateMerger | None = None,
) -> ParsedMessage:
    """Route and parse one MQTT message. Raises `PayloadError` (reason, detail) on any bad input.

    `merger` (one per process, owned by the MQTT consumer) enables DJI partial-state merging and
    gateway -> aircraft attribution for DRC poses; without it DJI parsing is stateless.
    A naive `received_at` is a caller bug and raises plain `ValueError`, not `PayloadError`.
    """
    route = router.resolve(topic)
    kind = route.kind
    if kind == "sensor":
        readings = parse_sensor_reading(
            route.device_id,
            payload,
            received_at,
            limits=limits,
            topic=topic,
        )
        return ParsedMessage(route, readings=readings)
    if kind == "pose":
        pose = parse_generic_pose(
            route.device_id,
            payload,
            received_at,
            limits=limits,
        )
        return ParsedMessage(route, poses=[pose])
    if kind == "dji_osd":
        res = parse_dji_osd(
            route.device_id, payload, received_at, limits, kind=route.sub or "osd", merger=merger
        )
        return ParsedMessage(route, poses=[res.pose] if res.pose is not None else [], records=[res.state])
    if kind == "dji_drc":
        out = parse_dji_drc(route.device_id, payload, received_at, limits, merger=merger)
        if isinstance(out, Pose):
            return ParsedMessage(route, poses=[out])
        return ParsedMessage(route, records=[out])
    if kind == "dji_event":
        return ParsedMessage(route, records=[parse_dji_event(route.device_id, payload, received_at, limits)])
    if kind == "dji_status":
        topo = parse_dji_status(route.device_id, payload, received_at, limits, merger=merger)
        return ParsedMessage(route, records=[topo])
    if kind == "device_status":
        return ParsedMessage(
            route, records=[parse_device_status(route.device_id, payload, received_at, limits)]
        )
    raise AssertionError(f"unhandled route kind {kind}")  # pragma: no cover
