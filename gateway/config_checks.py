"""Checks that `gateway.config` runs on fields whose type alone says too little (connection settings, codes),
so `config check` refuses what `run` would otherwise fail on later. Each returns the value or raises ValueError
with a one-line reason (pydantic turns it into an error naming the field). Messages never repeat a URL: it may
hold a password."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ingest.mqtt import BrokerAddress

DATABASE_SCHEMES = ("postgresql", "postgres")
# What ingest.mqtt.BrokerAddress.parse connects to (paho over TCP; TLS for mqtts/ssl). No websockets.
MQTT_SCHEMES = ("mqtt", "tcp", "mqtts", "ssl")
# The id names the broker's persistent session. Letters, digits and . _ : - work on every broker we know of
# (MQTT 3.1.1 only promises [0-9a-zA-Z]); + # / would also be substituted into ACL patterns (%c) as topic
# syntax. 64 leaves room for the publisher's "-pub-XXXXXX" suffix under common 128-character broker limits.
CLIENT_ID_MAX = 64
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]+")
# Reason codes travel in request bodies, evidence entries and the audit log: lowercase words joined by _.
_REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Item codes come from the province's factor library (e.g. C-NOISE-NIGHT, 0401012000); zones carry them as is.
_ITEM_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")


def check_database_url(value: str) -> str:
    """Empty (the embedded store), a postgresql:// or postgres:// URL, or a libpq key=value conninfo."""
    if value == "":
        return value
    if not value.strip():
        raise ValueError("blank; leave it empty ('') for the embedded PostgreSQL")
    if "://" in value:
        scheme = value.split("://", 1)[0]
        if scheme.lower() not in DATABASE_SCHEMES:
            raise ValueError(f"scheme {scheme!r} is not postgresql:// or postgres://")
    elif "=" not in value:
        raise ValueError("not a postgresql:// URL nor a key=value conninfo")
    try:
        params = conninfo_to_dict(value)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"not a usable conninfo: {_first_line(exc)}") from None
    for port in str(params.get("port", "")).split(","):
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ValueError(f"port {port!r} is not a number in 1-65535")
    return value


def check_mqtt_url(value: str) -> str:
    """Empty (the embedded broker) or scheme://[user:pass@]host[:port], scheme one of MQTT_SCHEMES."""
    if value == "":
        return value
    parts = urlsplit(value if "://" in value else f"mqtt://{value}")
    if parts.scheme not in MQTT_SCHEMES:
        hint = " (websockets are not supported)" if parts.scheme in ("ws", "wss") else ""
        raise ValueError(f"scheme {parts.scheme!r} is not one of " + ", ".join(f"{s}://" for s in MQTT_SCHEMES)
                         + hint)
    try:
        port = parts.port
    except ValueError:
        raise ValueError("port is not a number in 1-65535") from None
    if port == 0:
        raise ValueError("port is not a number in 1-65535")
    if not parts.hostname:
        raise ValueError("no broker host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("a broker URL has no path, query or fragment")
    BrokerAddress.parse(value)  # the parser the gateway connects with must agree
    return value


def check_client_id(value: str) -> str:
    if not value:
        raise ValueError("empty: the broker would give the gateway a new session on every start, and the "
                         "messages queued while it was down would be lost")
    if len(value) > CLIENT_ID_MAX or not _CLIENT_ID.fullmatch(value):
        raise ValueError(f"must be 1-{CLIENT_ID_MAX} characters of A-Z a-z 0-9 . _ : - "
                         "(no MQTT wildcards + #, no /, no spaces)")
    return value


def check_share_name(value: str) -> str:
    """MQTT v5 4.8.2: a share name is at least one character without / + #."""
    if not value or any(c in value for c in "/+#") or "\x00" in value:
        raise ValueError("a shared-subscription group is one or more characters without / + #")
    return value


def check_topic_filter(value: str) -> str:
    """MQTT 4.7.1: + takes a whole level, # a whole last level; no NUL; not empty."""
    if not value or "\x00" in value:
        raise ValueError(f"topic filter {value!r} is empty or holds NUL")
    levels = value.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(f"topic filter {value!r}: # must be the whole last level")
        if "+" in level and level != "+":
            raise ValueError(f"topic filter {value!r}: + must be a whole level")
    return value


def check_reason_code(value: str) -> str:
    if not _REASON_CODE.fullmatch(value):
        raise ValueError(f"reason code {value!r} must be 1-64 characters of a-z 0-9 _, starting with a letter")
    return value


def check_item_code(value: str) -> str:
    if not _ITEM_CODE.fullmatch(value):
        raise ValueError(f"item code {value!r} must be 1-64 characters of A-Z a-z 0-9 . _ : / -, starting with a "
                         "letter or digit")
    return value


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_timezone(value: str) -> str:
    """An IANA time zone name this machine's tz database knows (tzdata ships with the gateway)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value
