"""The rule catalogue the gateway runs with (shipped or configured), and the zone kinds it implies."""

from __future__ import annotations

from detectors.catalogue import Catalogue, load_default_catalogue
from gateway.config import Settings
from geo.zones import register_zone_kinds


def load_catalogue(settings: Settings) -> Catalogue:
    """Load the catalogue and accept its zone kinds (catering, surface_water_class_III, ...) as zone kinds:
    a zone is only useful to a rule if the rule can name its kind."""
    path = settings.alerts.catalogue
    catalogue = Catalogue.from_file(path) if path else load_default_catalogue()
    register_zone_kinds(k for rule in catalogue for k in rule.zone_kinds)
    return catalogue
