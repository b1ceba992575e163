"""In-process zone index over shapely 2.x ``STRtree``, queried with arrays of points at once.

Why this shape:

* ``STRtree`` is immutable, and rebuilding it is cheap (milliseconds for 10 k polygons), so a change of
  zones builds a complete new :class:`ZoneIndex` snapshot and then swaps one reference
  (:meth:`ZoneRegistry.replace`). Readers never see a half-built index and need no lock; a reader
  that wants several consistent queries holds ``registry.index`` for their duration.
* Queries run as ``tree.query(points, predicate=...)``, which evaluates ``predicate(point, zone)``;
  ``"intersects"`` (the default) counts the boundary as inside, so a point on a shared edge of two
  jurisdictions hits both and a tie-break decides (see :mod:`geo.jurisdiction`). ``"contains"`` would be
  the wrong direction (a point never contains a zone).
* Kind and schedule filters are vectorised masks over the hit pairs. Schedules have minute
  resolution, so the per-zone "active" mask is cached per minute.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import shapely
from shapely import STRtree

from geo.zones import Zone, degree_area_to_m2

Predicate = Literal["intersects", "within", "covered_by"]
_MIN_CHUNK = 50_000  # below this per thread, threading costs more than it saves


@dataclass(frozen=True, slots=True)
class Hits:
    """Point/zone pairs: ``zone_index[k]`` is a hit for input point ``point_index[k]`` (sorted by point)."""

    point_index: np.ndarray
    zone_index: np.ndarray
    index: ZoneIndex

    def __len__(self) -> int:
        return int(self.point_index.size)

    def zones_for(self, i: int) -> list[Zone]:
        """Zones hit by input point ``i``."""
        lo, hi = np.searchsorted(self.point_index, [i, i + 1])
        return [self.index.zones[j] for j in self.zone_index[lo:hi]]

    def per_point(self, n_points: int) -> list[list[Zone]]:
        """One list of zones per input point (convenient for small batches)."""
        out: list[list[Zone]] = [[] for _ in range(n_points)]
        zones = self.index.zones
        for p, z in zip(self.point_index.tolist(), self.zone_index.tolist(), strict=True):
            out[p].append(zones[z])
        return out

    def counts(self, n_points: int) -> np.ndarray:
        """Number of zones hit per input point."""
        return np.bincount(self.point_index, minlength=n_points)


@dataclass(frozen=True, eq=False)
class ZoneIndex:
    """An immutable snapshot: zones, their geometries, the STRtree and per-zone attribute arrays."""

    version: int
    zones: tuple[Zone, ...]
    geoms: np.ndarray
    tree: STRtree
    kind_codes: np.ndarray
    kind_table: dict[str, int]
    priority: np.ndarray
    area_m2: np.ndarray
    scheduled: np.ndarray
    by_id: dict[str, int]
    _active_cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    memo: dict[str, Any] = field(default_factory=dict, repr=False)  # derived per-snapshot data

    @classmethod
    def build(cls, zones: Iterable[Zone], version: int = 0) -> ZoneIndex:
        """Build a snapshot; zone ids must be unique."""
        zs = tuple(zones)
        by_id: dict[str, int] = {}
        for i, z in enumerate(zs):
            if z.id in by_id:
                raise ValueError(f"duplicate zone id {z.id!r}")
            by_id[z.id] = i
        geoms = np.array([z.shape for z in zs], dtype=object)
        if len(zs):
            shapely.prepare(geoms)
        kind_table: dict[str, int] = {}
        kind_codes = np.array([kind_table.setdefault(z.kind, len(kind_table)) for z in zs], dtype=np.int32)
        return cls(
            version=version,
            zones=zs,
            geoms=geoms,
            tree=STRtree(geoms),
            kind_codes=kind_codes,
            kind_table=kind_table,
            priority=np.array([z.priority for z in zs], dtype=np.int64),
            area_m2=(
                degree_area_to_m2(shapely.area(geoms), shapely.get_y(shapely.centroid(geoms)))
                if len(zs)
                else np.empty(0)
            ),
            scheduled=np.array([z.schedule is not None for z in zs], dtype=bool),
            by_id=by_id,
        )

    def __len__(self) -> int:
        return len(self.zones)

    def active_mask(self, at: datetime) -> np.ndarray:
        """Boolean per zone: is its schedule active at ``at`` (zones without schedule: always)."""
        if at.tzinfo is None:
            raise ValueError("'at' must be timezone-aware")
        key = int(at.timestamp() // 60)
        cached = self._active_cache.get(key)
        if cached is not None:
            return cached
        mask = np.ones(len(self.zones), dtype=bool)
        for i in np.flatnonzero(self.scheduled):
            sched = self.zones[i].schedule
            assert sched is not None
            mask[i] = sched.is_active(at)
        if len(self._active_cache) > 64:
            self._active_cache.clear()
        self._active_cache[key] = mask
        return mask

    def kind_mask(self, kinds: Iterable[str]) -> np.ndarray:
        """Boolean per zone: kind is one of ``kinds``."""
        codes = [self.kind_table[k] for k in kinds if k in self.kind_table]
        return np.isin(self.kind_codes, codes)

    def query_points(
        self,
        points: np.ndarray,
        *,
        kinds: Iterable[str] | None = None,
        at: datetime | None = None,
        predicate: Predicate = "intersects",
        workers: int = 1,
    ) -> Hits:
        """Zones for an array of shapely Points (WGS84).

        ``workers > 1`` splits large batches over threads (GEOS releases the GIL in queries).
        """
        if len(self.zones) == 0:
            empty = np.empty(0, dtype=np.intp)
            return Hits(empty, empty, self)
        pi, zi = self._tree_query(points, predicate, workers)
        keep: np.ndarray | None = None
        if kinds is not None:
            keep = self.kind_mask(kinds)
        if at is not None and self.scheduled.any():
            active = self.active_mask(at)
            keep = active if keep is None else keep & active
        if keep is not None and not keep.all():
            sel = keep[zi]
            pi, zi = pi[sel], zi[sel]
        return Hits(pi, zi, self)

    def query(
        self,
        lons: Any,
        lats: Any,
        *,
        kinds: Iterable[str] | None = None,
        at: datetime | None = None,
        predicate: Predicate = "intersects",
        workers: int = 1,
    ) -> Hits:
        """Zones for arrays of WGS84 lon/lat."""
        x = np.atleast_1d(np.asarray(lons, dtype=np.float64))
        y = np.atleast_1d(np.asarray(lats, dtype=np.float64))
        if workers > 1 and x.size >= 2 * _MIN_CHUNK:
            chunks = np.array_split(np.arange(x.size), workers)
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(lambda c: shapely.points(x[c], y[c]), chunks))
            points = np.concatenate(parts)
        else:
            points = shapely.points(x, y)
        return self.query_points(points, kinds=kinds, at=at, predicate=predicate, workers=workers)

    def _tree_query(self, points: np.ndarray, predicate: str, workers: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(points)
        if workers <= 1 or n < 2 * _MIN_CHUNK:
            pairs = self.tree.query(points, predicate=predicate)
            return pairs[0], pairs[1]
        bounds = np.linspace(0, n, workers + 1).astype(np.intp)

        def run(k: int) -> np.ndarray:
            lo, hi = bounds[k], bounds[k + 1]
            pairs = self.tree.query(points[lo:hi], predicate=predicate)
            pairs[0] += lo
            return pairs

        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(run, range(workers)))
        pairs = np.concatenate(parts, axis=1)
        return pairs[0], pairs[1]


class ZoneRegistry:
    """Holds the current :class:`ZoneIndex`; swaps it atomically when zones change."""

    def __init__(self, zones: Iterable[Zone] = ()) -> None:
        self._write_lock = threading.Lock()  # serialises writers only; readers never lock
        self._index = ZoneIndex.build(zones, version=0)

    @property
    def index(self) -> ZoneIndex:
        """The current snapshot (hold it to run several queries against the same zones)."""
        return self._index

    @property
    def version(self) -> int:
        """Incremented on every change."""
        return self._index.version

    def __len__(self) -> int:
        return len(self._index)

    def replace(self, zones: Iterable[Zone]) -> ZoneIndex:
        """Build a new index from ``zones`` and swap it in (one reference assignment)."""
        with self._write_lock:
            new = ZoneIndex.build(zones, version=self._index.version + 1)
            self._index = new
            return new

    def upsert(self, zones: Sequence[Zone] | Zone) -> ZoneIndex:
        """Add or replace zones by id."""
        items = [zones] if isinstance(zones, Zone) else list(zones)
        with self._write_lock:
            current = {z.id: z for z in self._index.zones}
            for z in items:
                current[z.id] = z
            new = ZoneIndex.build(current.values(), version=self._index.version + 1)
            self._index = new
            return new

    def remove(self, zone_ids: Iterable[str]) -> ZoneIndex:
        """Remove zones by id (unknown ids are ignored)."""
        drop = set(zone_ids)
        with self._write_lock:
            new = ZoneIndex.build((z for z in self._index.zones if z.id not in drop), version=self._index.version + 1)
            self._index = new
            return new

    def get(self, zone_id: str) -> Zone | None:
        """A zone by id from the current snapshot."""
        idx = self._index
        i = idx.by_id.get(zone_id)
        return None if i is None else idx.zones[i]

    def contains(
        self,
        lons: Any,
        lats: Any,
        *,
        kinds: Iterable[str] | None = None,
        at: datetime | None = None,
        predicate: Predicate = "intersects",
        workers: int = 1,
    ) -> Hits:
        """Vectorised: which zones contain each point (boundary inclusive by default)."""
        return self._index.query(lons, lats, kinds=kinds, at=at, predicate=predicate, workers=workers)

    def contains_points(
        self,
        points: np.ndarray,
        *,
        kinds: Iterable[str] | None = None,
        at: datetime | None = None,
        predicate: Predicate = "intersects",
        workers: int = 1,
    ) -> Hits:
        """As :meth:`contains` for an array of shapely Points built by the caller (e.g. once per frame)."""
        return self._index.query_points(points, kinds=kinds, at=at, predicate=predicate, workers=workers)

    def zones_at(
        self,
        lon: float,
        lat: float,
        *,
        kinds: Iterable[str] | None = None,
        at: datetime | None = None,
        predicate: Predicate = "intersects",
    ) -> list[Zone]:
        """Scalar convenience: zones at one point."""
        return self.contains([lon], [lat], kinds=kinds, at=at, predicate=predicate).zones_for(0)


def snapshot(zones: ZoneRegistry | ZoneIndex) -> ZoneIndex:
    """The index to query: a registry's current snapshot, or the snapshot a caller already holds."""
    return zones.index if isinstance(zones, ZoneRegistry) else zones
