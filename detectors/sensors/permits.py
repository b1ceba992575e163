"""Night-work permits (夜间施工证明): what lets a site build at night under the Noise Law (2022) art. 43.

Noisy construction at night in a noise-sensitive area is forbidden whatever its level, unless the work is an
emergency repair or must run continuously and the site holds a certificate from the local housing-and-construction
or ecology-and-environment department (or the body the local government names). A rule with
`permit_suppressed: true` is not evaluated for a zone while one of its permits is valid at the reading's time;
an expired permit suppresses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class NightWorkPermit:
    """One registered permit: the site zone it covers, its validity (tz-aware instants, start inclusive, end
    exclusive), the issuing body and the permit's reference."""

    zone_id: str
    valid_from: datetime
    valid_until: datetime
    issuing_body: str
    reference: str

    def __post_init__(self) -> None:
        if self.valid_from.tzinfo is None or self.valid_until.tzinfo is None:
            raise ValueError(f"permit {self.reference}: validity needs time zones")
        if self.valid_until <= self.valid_from:
            raise ValueError(f"permit {self.reference}: valid_until is not after valid_from")
        if not self.issuing_body.strip() or not self.reference.strip():
            raise ValueError("a permit needs its issuing body and its reference")


def permit_spans(permits: Iterable[NightWorkPermit], zone_id: str | None) -> tuple[tuple[float, float], ...]:
    """[start, end) POSIX seconds of the permits of `zone_id`, sorted (what a tracker checks per reading)."""
    if zone_id is None:
        return ()
    return tuple(sorted((p.valid_from.timestamp(), p.valid_until.timestamp()) for p in permits
                        if p.zone_id == zone_id))


def permitted(spans: tuple[tuple[float, float], ...], t: float) -> bool:
    """Whether a permit span covers POSIX time `t`."""
    return any(a <= t < b for a, b in spans)
