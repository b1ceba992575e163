"""`enforcegw rules list`: the rules in force at a date with where each number comes from; bureau confirmations
and lawful day/night overrides in config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gateway.catalogue import CatalogueError, load_catalogue
from gateway.cli import main
from gateway.config import load_settings
from gateway.demo.confirmations import DEMO_CONFIRMED_RULES, DEMO_REFERENCE, with_demo_confirmations

FIELDS = {"standard", "clause", "edition", "valid_from", "valid_until", "category", "confirmed", "confirmed_by",
          "source"}


def config(tmp_path: Path, alerts: dict) -> Path:
    f = tmp_path / "gw.yaml"
    f.write_text(yaml.safe_dump({"alerts": alerts}, allow_unicode=True), encoding="utf-8")
    return f


def listed(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main([*args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("at", "present", "absent"),
    [("2025-12-31", "gb12523_2011.night.laeq", "gb12523_2025.night.laeq"),
     ("2026-01-01", "gb12523_2025.night.laeq", "gb12523_2011.night.laeq")],
)
def test_rules_in_force_at_a_date(capsys, at, present, absent):
    out = listed(capsys, "rules", "list", "--at", at, "--json")
    by_id = {r["id"]: r for r in out["rules"]}
    assert out["at"] == at and present in by_id and absent not in by_id
    assert all(r.keys() >= FIELDS for r in out["rules"])
    assert all(r["enabled"] for r in out["rules"])  # without --all only enabled rules


def test_unconfirmed_2025_rule_listed_as_such_and_confirmed_by_config(tmp_path, capsys):
    out = listed(capsys, "rules", "list", "--at", "2026-02-01", "--json")
    rule = next(r for r in out["rules"] if r["id"] == "gb12523_2025.night.laeq")
    assert (rule["confirmed"], rule["confirmed_by"], rule["valid_from"]) == (False, None, "2026-01-01")
    cfg = config(tmp_path, {"confirmations": {"gb12523_2025.night.laeq": {"confirmed_by": "粤环〔2026〕7号"}}})
    out = listed(capsys, "-c", str(cfg), "rules", "list", "--at", "2026-02-01", "--json")
    rule = next(r for r in out["rules"] if r["id"] == "gb12523_2025.night.laeq")
    assert (rule["confirmed"], rule["confirmed_by"]) == (True, "粤环〔2026〕7号")


def test_text_listing_one_line_per_rule_with_disabled_reasons(capsys):
    assert main(["rules", "list", "--at", "2026-02-01", "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("# ") and "2026-02-01" in lines[0]
    rail = next(line for line in lines if line.startswith("gb3096_2008.class4b_existing_rail.night.lamax"))
    assert "DISABLED" in rail and "5.3" in rail
    assert any("UNCONFIRMED" in line for line in lines if line.startswith("gb12523_2025."))


@pytest.mark.parametrize(
    ("alerts", "named"),
    [
        ({"confirmations": {"gb12523_2099.x": {"confirmed_by": "ref"}}}, "alerts.confirmations.gb12523_2099.x"),
        ({"overrides": {"zones": {"z": {"gb3096_2008.class2.day.laeq": {
            "period_hours": "23:00-07:00", "decision_ref": "ref"}}}}},
         "alerts.overrides.zones.z.gb3096_2008.class2.day.laeq: period_hours 23:00-07:00 is not a lawful day"),
    ],
)
def test_config_refused_naming_the_entry(tmp_path, alerts, named):
    with pytest.raises(CatalogueError, match=f"^{named}"):
        load_catalogue(load_settings(config(tmp_path, alerts)))


def test_demo_confirms_the_2025_rules_with_a_demo_reference(tmp_path):
    settings = with_demo_confirmations(load_settings(config(tmp_path, {})))
    cat = load_catalogue(settings)
    assert all(cat[r].confirmed and cat[r].confirmed_by == DEMO_REFERENCE for r in DEMO_CONFIRMED_RULES)
    own = with_demo_confirmations(load_settings(config(tmp_path, {"confirmations": {
        DEMO_CONFIRMED_RULES[0]: {"confirmed_by": "real ref"}}})))
    assert load_catalogue(own)[DEMO_CONFIRMED_RULES[0]].confirmed_by == "real ref"
