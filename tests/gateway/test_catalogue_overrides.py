"""Local overrides name rules of the catalogue the gateway runs with: a mistyped rule id would silently leave the
stricter local limit unapplied, so the catalogue load refuses it, naming the override."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gateway.catalogue import CatalogueError, load_catalogue
from gateway.config import load_settings

KNOWN = "gb18483_2001.oil_fume"


def settings(tmp_path: Path, zones: dict, devices: dict | None = None):
    f = tmp_path / "gw.yaml"
    f.write_text(yaml.safe_dump({"alerts": {"overrides": {"zones": zones, "devices": devices or {}}}}))
    return load_settings(f)


@pytest.mark.parametrize(("zones", "devices", "named"), [
    ({"cat-1": {"gb18483_2001.oil_fum": {"limit": 1.0}}}, {}, "alerts.overrides.zones.cat-1.gb18483_2001.oil_fum"),
    ({}, {"fume-01": {"no.such.rule": {"enabled": True}}}, "alerts.overrides.devices.fume-01.no.such.rule"),
    ({"cat-1": {"x.1": {}, KNOWN: {"limit": 1.0}}}, {"d": {"x.2": {}}}, "alerts.overrides.zones.cat-1.x.1"),
])
def test_an_override_of_an_unknown_rule_is_refused(tmp_path: Path, zones: dict, devices: dict, named: str) -> None:
    with pytest.raises(CatalogueError, match=f"^{named}: no such rule in the catalogue"):
        load_catalogue(settings(tmp_path, zones, devices))


def test_overrides_of_known_rules_load(tmp_path: Path) -> None:
    catalogue = load_catalogue(settings(tmp_path, {"cat-1": {KNOWN: {"limit": 1.0}}}, {"d": {KNOWN: {"clear_s": 5}}}))
    assert KNOWN in catalogue
