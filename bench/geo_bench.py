"""Geo throughput: point-in-zone through the registry vs bare shapely STRtree, and vectorised projection.

Usage: ``python bench/geo_bench.py [--points 1000000 --zones 10000 --repeat 3]``

Scenario (placed in Foshan lon/lat): a ~1 km square split into a
sqrt(M) x sqrt(M) grid; one random star-shaped 12-gon per cell; N uniform random points over the
square. Times are the best of ``--repeat`` runs, single thread.

Rows:
* bare ``STRtree.query(points, predicate)`` on prebuilt Point geometries (the raw limit);
* ``ZoneRegistry.contains_points`` on the same Points (same work plus the filter plumbing);
* bare ``shapely.points`` + ``STRtree.query`` from coordinate arrays, and ``ZoneRegistry.contains``
  from coordinate arrays (what a caller with lon/lat arrays pays);
* the registry with a kind filter and a schedule filter (``at=``);
* ``project_pixels`` for N pixels of one frame.

Goals: >= 1,000,000 point checks/s through the registry, registry/bare ratio >= 0.8, projection
>= 1,000,000 points/s.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import shapely

from geo.camera import CameraIntrinsics, DronePose
from geo.geodesy import metres_per_degree
from geo.projection import project_pixels
from geo.registry import ZoneRegistry
from geo.schedule import Schedule
from geo.zones import Zone

LON0, LAT0 = 113.10, 23.00
M_LON, M_LAT = (1.0 / m for m in metres_per_degree(LAT0))  # degrees per metre
SIDE_M = 1000.0


def make_zones(m: int, rng: np.random.Generator) -> list[Any]:
    """One random star 12-gon per grid cell (radius ~35% of the cell), in lon/lat."""
    k = math.ceil(math.sqrt(m))
    cell = SIDE_M / k
    geoms = []
    for i in range(m):
        cx, cy = (i % k + 0.5) * cell, (i // k + 0.5) * cell
        while True:
            ang = np.sort(rng.uniform(0, 2 * math.pi, 12))
            rad = cell * rng.uniform(0.25, 0.45, 12)
            xs = (cx + rad * np.cos(ang)) * M_LON + LON0
            ys = (cy + rad * np.sin(ang)) * M_LAT + LAT0
            poly = shapely.Polygon(np.column_stack([xs, ys]))
            if poly.is_valid:
                geoms.append(poly)
                break
    return geoms


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--zones", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--predicate", default="intersects", choices=["intersects", "within", "covered_by"])
    args = ap.parse_args(argv)
    n, pred = args.points, args.predicate
    rng = np.random.default_rng(42)

    geoms = make_zones(args.zones, rng)
    kinds = ["no_vending", "no_parking", "dumping_watch", "construction_site"]
    sched = Schedule(weekdays=["Mo", "Tu", "We", "Th", "Fr"], hours=[{"start": "07:00", "end": "21:00"}])
    t0 = time.perf_counter()
    zones = [
        Zone.from_shape(g, id=f"z{i}", kind=kinds[i % 4], schedule=sched if i % 2 else None)
        for i, g in enumerate(geoms)
    ]
    t_models = time.perf_counter() - t0
    t0 = time.perf_counter()
    registry = ZoneRegistry(zones)
    t_index = time.perf_counter() - t0
    tree = shapely.STRtree(np.array(geoms, dtype=object))

    lons = LON0 + rng.uniform(0, SIDE_M, n) * M_LON
    lats = LAT0 + rng.uniform(0, SIDE_M, n) * M_LAT
    points = shapely.points(lons, lats)
    at = datetime(2025, 1, 6, 12, 0, tzinfo=timezone(timedelta(hours=8)))

    rows: list[tuple[str, float, int]] = []
    # bare and registry runs are interleaved so background load hits both alike
    t_bare = t_reg = t_bare_xy = t_reg_xy = math.inf
    for _ in range(args.repeat):
        t, bare = best(lambda: tree.query(points, predicate=pred), 1)
        t_bare = min(t_bare, t)
        t, hits = best(lambda: registry.contains_points(points, predicate=pred), 1)
        t_reg = min(t_reg, t)
        t, bare_xy = best(lambda: tree.query(shapely.points(lons, lats), predicate=pred), 1)
        t_bare_xy = min(t_bare_xy, t)
        t, hits_xy = best(lambda: registry.contains(lons, lats, predicate=pred), 1)
        t_reg_xy = min(t_reg_xy, t)
    rows.append((f"bare STRtree.query(points, {pred!r})", t_bare, bare.shape[1]))
    rows.append(("registry.contains_points(points)", t_reg, len(hits)))
    rows.append(("bare points(x, y) + STRtree.query", t_bare_xy, bare_xy.shape[1]))
    rows.append(("registry.contains(lons, lats)", t_reg_xy, len(hits_xy)))
    t_thr, ht = best(lambda: registry.contains(lons, lats, predicate=pred, workers=2), args.repeat)
    rows.append(("registry.contains(lons, lats, workers=2)", t_thr, len(ht)))
    t_kind, hk = best(lambda: registry.contains_points(points, kinds=["no_vending"], predicate=pred), args.repeat)
    rows.append(("registry + kinds=['no_vending']", t_kind, len(hk)))
    t_at, ha = best(lambda: registry.contains_points(points, at=at, predicate=pred), args.repeat)
    rows.append(("registry + at=<Mon 12:00 CST>", t_at, len(ha)))
    assert len(hits) == bare.shape[1] == len(hits_xy) == len(ht), "registry and bare STRtree disagree"

    cam = CameraIntrinsics(width=4000, height=3000, hfov_deg=70)
    pose = DronePose(lat=LAT0, lon=LON0, height_agl_m=100, yaw_deg=30, pitch_deg=-45, roll_deg=1)
    u = rng.uniform(0, 4000, n)
    v = rng.uniform(0, 3000, n)
    t_proj, proj = best(lambda: project_pixels(pose, cam, u, v), args.repeat)
    rows.append(("project_pixels (one pose, N pixels)", t_proj, int(proj.valid.sum())))

    print(f"geo benchmark: {n:,} points, {args.zones:,} zones, best of {args.repeat}, predicate={pred}")
    print(f"zone models built in {t_models * 1e3:.0f} ms; registry index built in {t_index * 1e3:.1f} ms")
    print(f"{'case':44s} {'seconds':>9s} {'points/s':>14s} {'hits':>10s}")
    for name, t, h in rows:
        print(f"{name:44s} {t:9.3f} {n / t:14,.0f} {h:10,d}")
    ratio_pts = t_bare / t_reg
    ratio_xy = t_bare_xy / t_reg_xy
    print()
    print(f"ratio registry/bare, prebuilt Points:       {ratio_pts:.2f}  (goal >= 0.80)")
    print(f"ratio registry/bare, from lon/lat arrays:   {ratio_xy:.2f}  (goal >= 0.80)")
    print(f"registry point checks/s (from lon/lat):     {n / t_reg_xy:,.0f}  (goal >= 1,000,000)")
    print(f"registry point checks/s, 2 threads:         {n / t_thr:,.0f}")
    print(f"projection points/s:                        {n / t_proj:,.0f}  (goal >= 1,000,000)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
