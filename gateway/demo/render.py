"""How a `Snapshot` is shown: a rich renderable for the live view, one plain line for logs and CI."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from gateway.demo.clock import LOCAL_TZ
from gateway.demo.stats import DeviceLatest, Snapshot

_ALERT_COLUMNS = ("clue", "kind", "device", "peak / limit", "since (local)", "state", "review", "admissible",
                  "evidence")


def _alert_cells(a: dict[str, Any]) -> tuple[str, ...]:
    since = a["start_time"].astimezone(LOCAL_TZ).strftime("%H:%M") if a.get("start_time") else "-"
    state = "open" if a.get("end_time") is None else "ended"
    admissible = "yes" if a.get("admissible") else "[red]no " + ",".join(a.get("inadmissible_reasons") or [])
    # The evidence log entries that fixed the alert's open and end (`enforcegw evidence export --alert CLUE`).
    evidence = " ".join(f"#{a[k]}" for k in ("evidence_open_idx", "evidence_end_idx") if a.get(k) is not None)
    figure = f"{a['peak_value']:.2f} / {a['limit_value']:g}" if a.get("peak_value") is not None \
        and a.get("limit_value") is not None else a.get("figure") or "-"  # video alerts: what was seen
    return (a["clue_code"], a["kind"], a["device_id"], figure, since,
            state, a.get("status", "-"), admissible, evidence or "-")


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
    signed = "none yet" if s.checkpoint_size is None else f"{s.checkpoint_size} entries"
    alerts = Table(*_ALERT_COLUMNS, title=f"alerts ({len(s.alerts)} newest; evidence log signed: {signed})")
    for a in s.alerts:
        alerts.add_row(*_alert_cells(a))
    parts.append(alerts)
    return Group(*parts)


def render_line(s: Snapshot) -> str:
    dead = ",".join(f"{k}={v}" for k, v in sorted(s.dead_letters.items())) or "0"
    alerts = str(len(s.alerts))
    if s.alerts:
        alerts += " [" + "; ".join(" ".join(_alert_cells(a)).replace("[red]", "") for a in s.alerts) + "]"
    latest = " ".join(f"{d.device_id}[{_values(d)}]" for d in s.devices if d.values)
    line = (f"sim {_local(s)} | published {s.published} acked {s.acked} | readings {s.readings_stored} "
            f"| poses {s.poses_stored} | dead letters {dead} | queue {s.queue_depth} | flush p50 {_flush(s)} "
            f"| alerts {alerts} | signed {s.checkpoint_size or 0} | {latest}")
    return line + (f" | error {s.error}" if s.error else "")
