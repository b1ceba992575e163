"""`enforcegw rules list [--at DATE] [--all] [--json]`: the rules in force at a date, with where each number comes
from (standard, clause, edition, validity dates, category, confirmed and by what, source), so a reviewer can
check the whole catalogue on one page."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from zoneinfo import ZoneInfo

from detectors.sensors.catalogue import Catalogue, Rule
from detectors.sensors.periods import DEFAULT_TZ
from gateway.catalogue import load_catalogue
from gateway.commands.run import config_path
from gateway.config import load_settings
from gateway.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rules", help="The sensor rule catalogue: which standard says what.")
    sub = p.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="Rules in force at a date (default: today, Asia/Shanghai), enabled ones.")
    ls.add_argument("--at", type=_day, help="Local date YYYY-MM-DD (the reading's date to judge).")
    ls.add_argument("--all", action="store_true", help="Disabled rules too (with the reason).")
    ls.add_argument("--json", action="store_true", help="One JSON object per rule, in a list.")
    ls.set_defaults(func=_list)


def _day(v: str) -> date:
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {v!r}") from None


def rule_record(r: Rule) -> dict:
    """The fields a reviewer checks, as plain JSON values."""
    return {
        "id": r.id, "standard": r.standard, "clause": r.clause, "edition": r.edition,
        "valid_from": r.valid_from.isoformat() if r.valid_from else None,
        "valid_until": r.valid_until.isoformat() if r.valid_until else None,
        "category": r.category, "enabled": r.enabled, "confirmed": r.confirmed, "confirmed_by": r.confirmed_by,
        "metric": r.metric, "averaging": r.averaging, "window_s": r.window_s, "period": r.period.hours,
        "comparison": r.comparison, "limit": r.limit, "limit_low": r.limit_low, "unit": r.unit,
        "zone_kinds": list(r.zone_kinds), "source": r.source, "disabled_reason": r.disabled_reason,
    }


def rules_at(catalogue: Catalogue, day: date, include_disabled: bool = False) -> list[Rule]:
    return [r for r in catalogue.in_force(day) if r.enabled or include_disabled]


def _line(r: Rule) -> str:
    valid = f"{r.valid_from or '-'} .. {r.valid_until or '-'}"
    limit = r.limit if r.limit_low is None else f"{r.limit_low}-{r.limit}"
    conf = f"confirmed by {r.confirmed_by}" if r.confirmed_by else ("confirmed" if r.confirmed else "UNCONFIRMED")
    state = "" if r.enabled else f"  DISABLED: {r.disabled_reason or 'not confirmed'}"
    return (f"{r.id}  {r.standard} {r.clause} | edition {r.edition or '?'} | valid {valid} | {r.category} | "
            f"{r.metric} {r.averaging} {r.window_s}s {r.period.name} {r.period.hours} {r.comparison} {limit} {r.unit}"
            f" | {conf}{state} | source: {r.source}")


def _list(args: argparse.Namespace) -> int:
    settings = load_settings(config_path(args, "config"))
    day = args.at or datetime.now(ZoneInfo(DEFAULT_TZ)).date()
    try:
        rules = rules_at(load_catalogue(settings), day, args.all)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.json:
        json.dump({"at": day.isoformat(), "rules": [rule_record(r) for r in rules]}, sys.stdout, ensure_ascii=False,
                  indent=1)
        sys.stdout.write("\n")
        return 0
    scope = " (incl. disabled)" if args.all else ""
    print(f"# {len(rules)} rules in force on {day.isoformat()} (Asia/Shanghai){scope}")
    for r in rules:
        print(_line(r))
    return 0
