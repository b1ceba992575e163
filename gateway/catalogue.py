"""The rule catalogue the gateway runs with (shipped or configured), and the zone kinds it implies."""

from __future__ import annotations

import yaml
from pydantic import ValidationError

from detectors.sensors.catalogue import Catalogue, load_default_catalogue
from gateway.config import Settings
from gateway.errors import GatewayError
from geo.zones import BUILTIN_KINDS


class CatalogueError(GatewayError):
    """The configured rule catalogue cannot be used; the message names the file and the first problem."""


def load_catalogue(settings: Settings) -> Catalogue:
    """The configured catalogue (`alerts.catalogue`), else the shipped one, with the bureau's confirmations
    (`alerts.confirmations`) applied; every rule `alerts.overrides` or `alerts.confirmations` names must be in it,
    and a period override must keep the lawful length of the rule's period (see `OverrideConfig.unlawful_periods`)."""
    catalogue = _read_catalogue(settings)
    unknown = settings.alerts.overrides.unknown_rules({r.id for r in catalogue})
    if unknown:
        raise CatalogueError(f"alerts.overrides.{unknown[0]}: no such rule in the catalogue"
                             + (f" ({len(unknown) - 1} more)" if len(unknown) > 1 else ""))
    unlawful = settings.alerts.overrides.unlawful_periods({r.id: r.period.name for r in catalogue})
    if unlawful:
        raise CatalogueError(f"alerts.overrides.{unlawful[0]}")
    confirmations = settings.alerts.confirmations
    missing = [rule_id for rule_id in confirmations if rule_id not in catalogue]
    if missing:
        raise CatalogueError(f"alerts.confirmations.{missing[0]}: no such rule in the catalogue")
    return catalogue.with_confirmations({k: c.confirmed_by for k, c in confirmations.items()})


def _read_catalogue(settings: Settings) -> Catalogue:
    path = settings.alerts.catalogue
    if not path:
        return load_default_catalogue()
    try:
        return Catalogue.from_file(path)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogueError(f"alerts.catalogue {path}: {exc.error_count()} invalid value(s), first "
                             f"{where or '<rule>'}: {first['msg']}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())
        raise CatalogueError(f"alerts.catalogue {path}: {detail}") from None


def zone_kinds(catalogue: Catalogue) -> frozenset[str]:
    """The zone kinds an import accepts: geo's built-in ones and every kind the catalogue's rules name (a zone
    is only useful to a rule if the rule can name its kind)."""
    return BUILTIN_KINDS | catalogue.zone_kinds
