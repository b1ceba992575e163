"""The demo's stand-in for a bureau's confirmation of the unconfirmed GB 12523-2025 rules.

The demo runs in the present, when construction noise is judged by GB 12523-2025, whose values ship
unconfirmed: without a confirmation every demo construction-noise alert would be inadmissible. A real
deployment confirms them in `alerts.confirmations` with the document it relies on; the demo's reference says
plainly that it is none. A confirmation in the demo's own config wins.
"""

from __future__ import annotations

from gateway.config import RuleConfirmation, Settings

DEMO_REFERENCE = "DEMO ONLY - not a confirmation: simulated data, values not checked against GB 12523-2025"
DEMO_CONFIRMED_RULES = ("gb12523_2025.day.laeq", "gb12523_2025.night.laeq")


def with_demo_confirmations(settings: Settings) -> Settings:
    """`settings` with the demo's confirmations added under any the config already has."""
    demo = {rule_id: RuleConfirmation(confirmed_by=DEMO_REFERENCE) for rule_id in DEMO_CONFIRMED_RULES}
    merged = {**demo, **settings.alerts.confirmations}
    return settings.model_copy(update={"alerts": settings.alerts.model_copy(update={"confirmations": merged})})
