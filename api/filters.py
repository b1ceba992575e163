"""SQL WHERE clauses from list filters, shared by the list endpoints: equality on columns and a time range
whose bounds must carry a UTC offset (a time without one is ambiguous across the gateway and its users)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from api.models import error


def require_offset(t: datetime | None, name: str) -> datetime | None:
    if t is not None and t.tzinfo is None:
        raise error(400, "bad_time", f"{name} must carry a UTC offset", name)
    return t


def where_clauses(equal: Iterable[tuple[str, Any]], time_column: str, since: datetime | None,
                  until: datetime | None) -> tuple[list[str], list[Any]]:
    """`column = %s` for each value given, then `time_column >= since` and `< until`."""
    where, params = [], []
    for column, value in equal:
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    for op, t, name in ((">=", since, "from"), ("<", until, "to")):
        if require_offset(t, name) is not None:
            where.append(f"{time_column} {op} %s")
            params.append(t)
    return where, params
