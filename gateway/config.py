"""Gateway configuration: a YAML file plus `ENFORCEGW_*` environment overrides.

Every model forbids unknown keys, so a typo in a config file is an error naming the field instead of a
setting silently ignored (the way Frigate validates its config). Environment variables use `__` between
levels: `ENFORCEGW_DATABASE__URL`, `ENFORCEGW_INGEST__BATCH_MAX_ROWS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from detectors.sensors.overrides import OverrideConfig
from evidence.config import EvidenceConfig
from gateway.cases.config import CasesConfig
from gateway.config_checks import (
    check_client_id,
    check_database_url,
    check_item_code,
    check_mqtt_url,
    check_reason_code,
    check_share_name,
    check_timezone,
    check_topic_filter,
)
from gateway.errors import GatewayError
from gateway.video.detection_config import DetectionConfig
from ingest.video.config import VideoConfig

ReasonCode = Annotated[str, AfterValidator(check_reason_code)]
ItemCode = Annotated[str, AfterValidator(check_item_code)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseConfig(_Section):
    url: str = Field(
        default="",
        description="postgresql://[user[:password]@]host[:port]/dbname[?param=value] (postgres:// too) or a libpq "
        "key=value conninfo (host=... dbname=...). Empty starts an embedded PostgreSQL (pgserver) under data_dir.",
    )
    pool_min: int = Field(default=1, ge=1, description="Minimum connections kept open in the async pool.")
    pool_max: int = Field(default=8, ge=1, description="Maximum connections in the async pool.")
    timescaledb: bool = Field(
        default=True,
        description="Use the timescaledb extension when the server has it (hypertables, columnstore, "
        "continuous aggregates). False forces plain tables.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_database_url(v)


class MqttConfig(_Section):
    url: str = Field(
        default="",
        description="Broker URL mqtt://[user:pass@]host[:port] (tcp:// the same; mqtts:// or ssl:// for TLS; "
        "the default ports are 1883 and 8883). Empty starts an embedded amqtt broker on 127.0.0.1.",
    )
    protocol: Literal["5", "3.1.1"] = Field(
        default="5",
        description="MQTT protocol version spoken to the broker. 3.1.1 costs about 40% less CPU per message in "
        "the client (no v5 properties to decode; bench/mqtt_client_bench.py) and suits brokers or bridges that speak "
        "only 3.1.1; the session is then kept with clean_session off and expires by the broker's own setting "
        "(mosquitto persistent_client_expiration), and the broker's max_inflight_messages bounds what it sends "
        "before our acknowledgements. The embedded broker always speaks 3.1.1.",
    )
    receive_process: bool = Field(
        default=False,
        description="Receive MQTT in a child process (ingest/mqtt_process.py): paho's packet decoding, most of one "
        "core at 5,000 messages/s, then runs beside the gateway instead of sharing its interpreter with ingest, "
        "rules and the API. Same QoS 1 and acknowledge-after-commit guarantee; the child is respawned if it dies.",
    )
    embedded_port: int = Field(default=18830, ge=1, le=65535, description="Port of the embedded broker.")
    topics: list[str] = Field(
        default_factory=lambda: [
            "enf/sensor/+/reading",
            "enf/drone/+/pose",
            "enf/device/+/status",
            "thing/product/+/osd",
            "thing/product/+/state",
            "thing/product/+/events",
            "thing/product/+/drc/up",
            "sys/product/+/status",
        ],
        description="Topic filters the gateway subscribes to (QoS 1).",
    )
    shared_group: str = Field(
        default="",
        description="MQTT v5 shared-subscription group: several gateways split the load as "
        "$share/<group>/<filter>. Empty subscribes plainly.",
    )
    client_id: str = Field(
        default="enforcegw-1",
        description="Fixed client id: with clean start off it names the persistent session the broker "
        "keeps while the gateway is down. 1-64 characters of A-Z a-z 0-9 . _ : - (no MQTT wildcards, no /).",
    )
    session_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=0, description="How long the broker keeps our session and queued messages."
    )
    keepalive_s: int = Field(default=30, ge=5, description="MQTT keepalive interval.")
    max_inflight: int = Field(
        default=20000, ge=1, le=65535,
        description="QoS 1 messages the broker may send before our acknowledgements (MQTT v5 Receive Maximum). "
        "We acknowledge after commit, so this must exceed ingest.batch_max_rows or batches never fill.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_mqtt_url(v)

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, v: str) -> str:
        return check_client_id(v)

    @field_validator("shared_group")
    @classmethod
    def _shared_group(cls, v: str) -> str:
        return check_share_name(v) if v else v

    @field_validator("topics")
    @classmethod
    def _topics(cls, v: list[str]) -> list[str]:
        for topic in v:
            check_topic_filter(topic)
        return v


class IngestConfig(_Section):
    batch_max_rows: int = Field(default=5000, ge=1, description="Flush a batch when it holds this many rows.")
    batch_max_ms: int = Field(
        default=50, ge=1, description="Flush a batch at the latest this long after its first row. It bounds the "
        "delay a reading adds to its alert; at high rates batches fill by size first."
    )
    batch_linger_ms: float = Field(
        default=2.0, ge=0, description="Flush an open batch as soon as no message has arrived for this long: "
        "quiet streams get low latency, busy ones still fill batches (they refill while the last one commits).",
    )
    queue_max: int = Field(
        default=200_000, ge=100, description="Bound of the queue between the MQTT thread and the writer."
    )
    accept_unknown_devices: bool = Field(
        default=False, description="Store readings from devices not in the registry instead of dead-lettering them."
    )
    max_payload_bytes: int = Field(default=65536, ge=64, description="Larger payloads are dead-lettered as oversize.")
    max_future_skew_s: float = Field(
        default=300.0, ge=0, description="Timestamps further than this in the future are dead-lettered."
    )


class ReasonLabel(_Section):
    """How a dismiss reason reads in the console's reason picker."""

    zh: str = Field(min_length=1, description="The label in Chinese.")
    en: str = Field(min_length=1, description="The label in English.")


def _default_dismiss_reasons() -> dict[str, ReasonLabel]:
    return {
        "false_detection": ReasonLabel(zh="误报", en="False detection"),
        "duplicate": ReasonLabel(zh="重复线索", en="Duplicate"),
        "outside_jurisdiction": ReasonLabel(zh="不属本辖区", en="Outside jurisdiction"),
        "lawful_activity": ReasonLabel(zh="合法行为", en="Lawful activity"),
        "device_fault": ReasonLabel(zh="设备故障", en="Device fault"),
    }


class ReviewConfig(_Section):
    lease_s: float = Field(
        default=600.0, gt=0, description="How long a claim holds an alert for its reviewer; claiming again renews "
        "it, and once it runs out anyone may take the alert."
    )
    dismiss_reasons: dict[ReasonCode, ReasonLabel] = Field(
        default_factory=_default_dismiss_reasons, min_length=1,
        description="reason code -> labels: the reasons a dismissal may give, in the order the console offers them "
        "(GET /api/review/reasons). Reasons given here replace the default set whole."
    )
    pool_max: int = Field(
        default=4, ge=1, description="Connections of the pool review decisions run on (each holds one for its "
        "transaction; decisions also queue on the evidence log's append lock)."
    )


class AuthBrakeConfig(_Section):
    failure_limit: int = Field(
        default=10, ge=1, description="Bad tokens from one address within window_s before it is answered 429."
    )
    window_s: float = Field(default=60.0, gt=0, description="The sliding window the failures are counted over.")


class ConsoleConfig(_Section):
    """The operator console's map and clock (the console is served at / by the API)."""

    tile_url: str | None = Field(
        default=None, description="XYZ tile template for the map's base layer, e.g. a Tianditu or AMap template "
        "({z}/{x}/{y}, {s}); None: an offline base drawn from the imported jurisdiction boundaries.")
    tile_attribution: str = Field(default="", description="Attribution shown for the tiles (the provider's terms).")
    tile_crs: Literal["wgs84", "gcj02"] = Field(
        default="wgs84", description="Coordinate system of the tiles: gcj02 for AMap/Tencent (the console shifts "
        "WGS84 data onto them), wgs84 for Tianditu and OSM.")
    max_zoom: int = Field(default=18, ge=1, le=22, description="Highest zoom level the tiles offer.")
    timezone: str = Field(default="Asia/Shanghai", description="Time zone the console shows times in.")
    default_language: Literal["zh", "en"] = Field(default="zh", description="Language before the user picks one.")

    @field_validator("tile_url")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        if v is not None and not (v.startswith(("http://", "https://", "/")) and "{z}" in v and "{x}" in v
                                  and "{y}" in v):
            raise ValueError("a tile template is an http(s) URL (or a path) with {z}, {x} and {y}")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return check_timezone(v)


class ApiConfig(_Section):
    listen: str = Field(default="127.0.0.1:8080", description="host:port of the HTTP server (health, metrics, API).")
    console: ConsoleConfig = Field(default_factory=ConsoleConfig, description="The operator console in the browser.")
    review: ReviewConfig = Field(default_factory=ReviewConfig, description="First and legal review of alerts.")
    auth: AuthBrakeConfig = Field(default_factory=AuthBrakeConfig, description="The brake on token guessing.")

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"expected host:port, got {v!r}")
        return v

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class RuleConfirmation(_Section):
    """A bureau's decision that an unconfirmed rule's shipped values are right, and what it relies on."""

    confirmed_by: str = Field(
        min_length=1, description="Reference of the document the bureau relies on (the standard's text it checked, "
        "its own decision number); recorded on the rule and printed by `enforcegw rules list`."
    )
    note: str | None = Field(default=None, description="Who checked it and when, for the record.")


class AlertsConfig(_Section):
    enabled: bool = Field(default=True, description="Run the sensor rule engine and raise alerts.")
    catalogue: Path | None = Field(
        default=None, description="Rule catalogue YAML replacing the shipped detectors/sensors/catalogue.yaml."
    )
    overrides: OverrideConfig = Field(
        default_factory=OverrideConfig, description="Local rule overrides per zone or device (limits, enabling)."
    )
    confirmations: dict[str, RuleConfirmation] = Field(
        default_factory=dict, description="rule id -> confirmation of a rule shipped `confirmed: false` (e.g. GB "
        "12523-2025): until confirmed its alerts are raised but inadmissible (standard_unconfirmed)."
    )
    lateness_s: float = Field(
        default=0.0, ge=0, description="Hold readings this long to put out-of-order ones in time order first "
        "(adds the same delay to every alert)."
    )
    update_interval_s: float = Field(default=60.0, ge=0, description="At most one `update` per alert this often.")
    max_gap_s: float = Field(default=300.0, gt=0, description="A gap in a device's data this long breaks a run.")
    stale_after_s: float | None = Field(
        default=900.0, description="End an open alert when its device sends nothing for this long (None: never)."
    )
    max_history_s: float = Field(
        default=6 * 3600.0, gt=0, description="Most history re-read per device to rebuild windows after a restart."
    )
    topic_prefix: str = Field(default="enf/alerts", description="Alerts are published on <prefix>/<kind>.")


class EnforcementItem(_Section):
    """An enforcement item (执法事项): a coded violation type with its legal basis, as the bureau's factor library
    has it."""

    name: str = Field(min_length=1, description="The item's name, e.g. 夜间施工噪声扰民 (case tasks carry it).")
    legal_basis: str = Field(
        min_length=1, description="The law and article the item rests on (case tasks carry it)."
    )
    legal_review: bool = Field(
        default=True, description="Whether a confirmed alert of this item waits for a legal review (二审) by a "
        "supervisor other than its first reviewer before it is ready for a case task."
    )


class EnforcementConfig(_Section):
    items: dict[ItemCode, EnforcementItem] = Field(
        default_factory=dict, description="item code (as zones carry it in enforcement_items) -> the item."
    )
    default_legal_review: bool = Field(
        default=True, description="Whether an alert whose item is not listed here, or that has no item, needs a "
        "legal review. True (the default) errs on the side of a second reviewer."
    )

    def needs_legal_review(self, code: str | None) -> bool:
        item = self.items.get(code) if code is not None else None
        return self.default_legal_review if item is None else item.legal_review


class LogConfig(_Section):
    level: str = Field(default="INFO", description="Log level: DEBUG, INFO, WARNING, ERROR.")
    json_format: bool = Field(default=False, description="JSON log lines instead of the console renderer.")


class Settings(BaseSettings):
    """Top-level configuration. `load_settings` reads it; `enforcegw config check` validates a file."""

    model_config = SettingsConfigDict(
        env_prefix="ENFORCEGW_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(default=Path("data"), description="Embedded database, broker state, media and keys.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig, description="Store connection.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="Broker connection and subscriptions.")
    ingest: IngestConfig = Field(default_factory=IngestConfig, description="Batching and input limits.")
    api: ApiConfig = Field(default_factory=ApiConfig, description="HTTP server.")
    log: LogConfig = Field(default_factory=LogConfig, description="Logging.")
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig, description="Evidence log and signing key.")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Sensor rule engine and alerts.")
    enforcement: EnforcementConfig = Field(
        default_factory=EnforcementConfig, description="Enforcement items and which of them need a legal review."
    )
    cases: CasesConfig = Field(
        default_factory=CasesConfig, description="Case systems reviewed clues are pushed to as tasks."
    )
    video: VideoConfig = Field(
        default_factory=VideoConfig, description="Video streams, the media server in front, DJI live, pose pairing."
    )
    detection: DetectionConfig = Field(
        default_factory=DetectionConfig,
        description="Object detection and the video violation rules on the streams' frames (off by default).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file: the file arrives as init kwargs.
        return (env_settings, init_settings)


class ConfigError(GatewayError):
    """A config file that cannot be used; `errors` holds (field path, message) pairs, each one line."""

    def __init__(self, source: str, errors: list[tuple[str, str]]) -> None:
        self.source = source
        self.errors = errors
        lines = "\n".join(f"  {path}: {msg}" for path, msg in errors)
        super().__init__(f"invalid configuration in {source}:\n{lines}")

    def lines(self) -> list[str]:
        """One line per error, each naming the source and the field."""
        return [f"{self.source}: {path}: {msg}" for path, msg in self.errors]


def _read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping. Every way a file can be unusable is a ConfigError of one line."""
    def fail(msg: str) -> ConfigError:
        return ConfigError(str(path), [("<file>", msg)])

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise fail("file not found") from None
    except IsADirectoryError:
        raise fail("is a directory, not a config file") from None
    except PermissionError:
        raise fail("cannot read it: permission denied") from None
    except OSError as exc:
        raise fail(f"cannot read it: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise fail(f"not valid YAML{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise fail(f"not valid YAML: {' '.join(str(exc).split())}") from None
    except ValueError as exc:  # an integer past Python's int-string limit (4300 digits)
        raise fail(f"unusable value: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise fail("nested too deeply to be a config file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [("<root>", f"expected a mapping of settings, got {_yaml_type(data)}")])
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ConfigError(str(path), [("<root>", f"setting names must be strings, got {bad[0]!r}")])
    return data


def _yaml_type(value: object) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__)


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read `path` (YAML) if given, apply environment overrides, validate; raise ConfigError naming fields."""
    data: dict[str, Any] = _read_yaml(Path(path)) if path else {}
    data.update(overrides)
    source = str(path or "<environment>")
    try:
        return Settings(**data)
    except ValidationError as exc:
        errors = [(".".join(str(p) for p in err["loc"]) or "<root>", err["msg"].removeprefix("Value error, "))
                  for err in exc.errors()]
        raise ConfigError(source, errors) from None
    except SettingsError as exc:  # an ENFORCEGW_* variable that is not valid JSON for a list or mapping field
        raise ConfigError("<environment>", [("<env>", str(exc))]) from None
