"""Point -> enforcement subject through ``jurisdiction`` zones.

Rule (deterministic, so two gateways route the same clue to the same bureau):

1. candidates = active ``jurisdiction`` zones that *intersect* the point (boundary inclusive, so a
   point on a shared district edge has two candidates instead of none);
2. highest ``priority`` wins; then the smallest area (the more local unit); then the lowest id;
3. no candidate -> an ``unassigned`` result with ``flagged=True`` (an operator must route it).

``flagged`` is also set when the winner was picked by a tie-break between candidates of equal
priority (shared edge, overlapping data), with ``reason`` saying so, so such clues can be reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np

from geo.registry import ZoneIndex, ZoneRegistry, snapshot
from geo.zones import EnforcementSubject, Zone

JURISDICTION_KIND = "jurisdiction"
UNASSIGNED_CODE = "unassigned"


@dataclass(frozen=True, slots=True)
class JurisdictionResult:
    """Who is responsible for a point."""

    status: Literal["assigned", "unassigned"]
    subject: EnforcementSubject | None
    zone: Zone | None
    candidates: tuple[str, ...]  # ids of all matching jurisdiction zones, winner first
    flagged: bool
    reason: str

    @property
    def subject_code(self) -> str:
        """The subject code, or ``"unassigned"``."""
        return self.subject.code if self.subject is not None else UNASSIGNED_CODE


def _order_key(index: ZoneIndex) -> np.ndarray:
    """Rank of every zone under (priority desc, area asc, id asc); lower rank wins."""
    cached = index.memo.get("jurisdiction_rank")
    if cached is not None:
        return cached
    n = len(index.zones)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    ids = np.array([z.id for z in index.zones], dtype=object)
    order = np.lexsort((ids, index.area_m2, -index.priority))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    index.memo["jurisdiction_rank"] = rank
    return rank


def _result(index: ZoneIndex, zone_idx: list[int]) -> JurisdictionResult:
    if not zone_idx:
        return JurisdictionResult("unassigned", None, None, (), True, "point is outside every active jurisdiction zone")
    zones = [index.zones[i] for i in zone_idx]
    win = zones[0]
    flagged = False
    reason = "single jurisdiction zone" if len(zones) == 1 else "highest priority"
    if len(zones) > 1 and zones[1].priority == win.priority:
        flagged = True
        reason = "overlapping zones with equal priority; smallest area chosen"
    if win.enforcement_subject is None:
        flagged = True
        reason = f"jurisdiction zone {win.id} has no enforcement_subject"
    return JurisdictionResult("assigned", win.enforcement_subject, win, tuple(z.id for z in zones), flagged, reason)


def resolve(
    registry: ZoneRegistry | ZoneIndex, lon: float, lat: float, *, at: datetime | None = None
) -> JurisdictionResult:
    """Enforcement subject for one WGS84 point."""
    return resolve_many(registry, [lon], [lat], at=at)[0]


def resolve_many(
    registry: ZoneRegistry | ZoneIndex, lons: Any, lats: Any, *, at: datetime | None = None
) -> list[JurisdictionResult]:
    """Vectorised :func:`resolve`: one result per input point."""
    index = snapshot(registry)
    hits = index.query(lons, lats, kinds=[JURISDICTION_KIND], at=at)
    n = int(np.atleast_1d(np.asarray(lons)).size)
    rank = _order_key(index)
    per_point: list[list[int]] = [[] for _ in range(n)]
    if len(hits):
        order = np.lexsort((rank[hits.zone_index], hits.point_index))
        for p, z in zip(hits.point_index[order].tolist(), hits.zone_index[order].tolist(), strict=True):
            per_point[p].append(z)
    return [_result(index, zi) for zi in per_point]


def winning_zone_index(
    registry: ZoneRegistry | ZoneIndex, lons: Any, lats: Any, *, at: datetime | None = None
) -> np.ndarray:
    """Fast path for large batches: index into ``registry.index.zones`` of the winner, -1 if none."""
    index = snapshot(registry)
    n = int(np.atleast_1d(np.asarray(lons)).size)
    out = np.full(n, -1, dtype=np.int64)
    hits = index.query(lons, lats, kinds=[JURISDICTION_KIND], at=at)
    if len(hits):
        rank = _order_key(index)
        order = np.lexsort((rank[hits.zone_index], hits.point_index))
        p, z = hits.point_index[order], hits.zone_index[order]
        first = np.ones(p.size, dtype=bool)
        first[1:] = p[1:] != p[:-1]
        out[p[first]] = z[first]
    return out
