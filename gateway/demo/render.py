"""How a `Snapshot` is shown: a rich renderable for the live view, one plain line for logs and CI."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from gateway.demo.clock import LOCAL_TZ
from gateway.demo.stats import DeviceLatest, Snapshot

# (column, candidate keys): the alerts table belongs to another feature; show whatever of these it has.
_ALERT_FIELDS = (
    ("clue", ("clue_code", "alert_id", "id")),
    ("device", ("device_id",)),
    ("rule", ("rule_id", "kind")),
    ("peak", ("peak_value", "value")),
    ("limit", ("limit_value", "limit")),
    ("since", ("start_time", "opened_at", "start", "created_at")),
    ("ongoing", ("end_time",)),
    ("status", ("status",)),
    ("admissible", ("admissible",)),
)


def _pick(alert: dict[str, Any], column: str, keys: tuple[str, ...]) -> str:
    if column == "ongoing":
        return "-" if "end_time" not in alert else ("yes" if alert["end_time"] is None else "ended")
    if column == "admissible" and alert.get("admissible") is False:
        return "[red]no " + ",".join(alert.get("inadmissible_reasons") or [])
    for k in keys:
        if alert.get(k) is not None:
            v = alert[k]
            return f"{v:.2f}" if isinstance(v, float) else str(v)
    return "-"


def _values(d: DeviceLatest) -> str:
    if not d.values:
        return "-"
    if "lat" in d.values:
        alt = f" {d.values['alt_rel_m']:.0f} m" if "alt_rel_m" in d.values else ""
        return f"{d.values['lat']:.5f}N {d.values['lon']:.5f}E{alt}"
    return "  ".join(f"{k} {v:g}" for k, v in d.values.items())


def _local(s: Snapshot) -> str:
    return s.sim_time.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _flush(s: Snapshot) -> str:
    return "-" if s.flush_p50_ms is None else f"<= {s.flush_p50_ms:g} ms"


def render_rich(s: Snapshot) -> Group:
    status = Table(title="enforcegw demo", show_header=False, expand=False)
    status.add_column(style="bold")
    status.add_column()
    status.add_row("simulated time (Asia/Shanghai)", _local(s) + ("  (caught up: real time)" if s.caught_up else ""))
    status.add_row("messages published / acked", f"{s.published} / {s.acked}")
    status.add_row("readings stored", str(s.readings_stored))
    status.add_row("poses stored", str(s.poses_stored))
    dead = ", ".join(f"{k}: {v}" for k, v in sorted(s.dead_letters.items())) or "none"
    status.add_row("dead letters", dead)
    status.add_row("ingest queue depth", str(s.queue_depth))
    status.add_row("batch flush p50", _flush(s))
    if s.error:
        status.add_row("[red]error", f"[red]{s.error}")
    devices = Table("device", "kind", "latest", "at (local)", "evidence", title="devices")
    for d in s.devices:
        at = d.at.astimezone(LOCAL_TZ).strftime("%H:%M:%S") if d.at else "-"
        legal = "ok" if d.admissible else "[red]calibration expired"
        devices.add_row(d.device_id, d.kind, _values(d), at, legal)
    parts: list[Any] = [status, devices]
    if s.alerts is not None:
        alerts = Table(*[name for name, _ in _ALERT_FIELDS], title=f"open alerts ({len(s.alerts)})")
        for a in s.alerts:
            alerts.add_row(*[_pick(a, name, keys) for name, keys in _ALERT_FIELDS])
        parts.append(alerts)
    return Group(*parts)


def render_line(s: Snapshot) -> str:
    dead = ",".join(f"{k}={v}" for k, v in sorted(s.dead_letters.items())) or "0"
    alerts = "n/a" if s.alerts is None else str(len(s.alerts))
    if s.alerts:
        alerts += " [" + "; ".join(
            " ".join(_pick(a, name, keys).removeprefix("[red]") for name, keys in _ALERT_FIELDS) for a in s.alerts
        ) + "]"
    latest = " ".join(f"{d.device_id}[{_values(d)}]" for d in s.devices if d.values)
    line = (f"sim {_local(s)} | published {s.published} acked {s.acked} | readings {s.readings_stored} "
            f"| poses {s.poses_stored} | dead letters {dead} | queue {s.queue_depth} | flush p50 {_flush(s)} "
            f"| open alerts {alerts} | {latest}")
    return line + (f" | error {s.error}" if s.error else "")
