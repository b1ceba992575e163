"""`enforcegw zones import FILE` / `enforcegw zones export` / `enforcegw zones locate LON LAT`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Collection
from pathlib import Path

import psycopg

from gateway.catalogue import load_catalogue, zone_kinds
from gateway.commands.run import config_path
from gateway.config import load_settings
from gateway.errors import InputError
from gateway.store.connect import resolve_database_url
from gateway.store.migrate import apply_migrations
from gateway.store.zones import load_all_zones, upsert_zones
from geo.crs import Crs
from geo.geojson_io import LoadResult, dump_zones, load_datav, load_zones
from geo.jurisdiction import resolve
from geo.registry import ZoneRegistry

CRS_CHOICES = [c.value for c in Crs]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("zones", help="Geofences: import, export, locate a point.")
    sub = p.add_subparsers(dest="zones_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="Import a GeoJSON FeatureCollection of zones (upsert by id).")
    imp.add_argument("file", type=Path)
    imp.add_argument("--crs", default="wgs84", choices=CRS_CHOICES,
                     help="CRS of the file: gcj02 for Amap/DataV, bd09 for Baidu maps (converted to WGS84).")
    imp.add_argument("--fix", action="store_true", help="Repair what shapely.make_valid can; report each repair.")
    imp.add_argument("--replace", action="store_true", help="Delete stored zones that are not in the file.")
    imp.add_argument("--format", default="auto", choices=["auto", "zones", "datav"],
                     help="datav: Aliyun DataV boundary files (adcode/name) become jurisdiction zones.")
    imp.set_defaults(func=_import)
    exp = sub.add_parser("export", help="Write stored zones as a GeoJSON FeatureCollection.")
    exp.add_argument("-o", "--output", type=Path, help="File to write (default: standard output).")
    exp.add_argument("--crs", default="wgs84", choices=CRS_CHOICES)
    exp.set_defaults(func=_export)
    loc = sub.add_parser("locate", help="Which jurisdiction and zones contain a WGS84 point.")
    loc.add_argument("lon", type=float)
    loc.add_argument("lat", type=float)
    loc.set_defaults(func=_locate)


def _is_datav(doc: dict) -> bool:
    props = [f.get("properties") or {} for f in doc.get("features", []) if isinstance(f, dict)]
    return bool(props) and all("adcode" in p and "kind" not in p for p in props)


def read_zone_file(path: Path, crs: str, fix: bool, fmt: str, kinds: Collection[str]) -> LoadResult:
    """Parse and validate a zone file; a file that cannot be read as a zone collection is an InputError."""
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # an integer past Python's int-string limit (4300 digits)
        raise InputError(f"{path}: unusable JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to be a zone file") from None
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    try:
        if fmt == "datav" or (fmt == "auto" and isinstance(doc, dict) and _is_datav(doc)):
            # DataV boundaries need repairs in practice (self-touching rings); report them, as with --fix.
            return load_datav(doc, crs=crs, fix=True, kinds=kinds)
        return load_zones(doc, crs=crs, fix=fix, kinds=kinds)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None


def _import(args: argparse.Namespace) -> int:
    settings = load_settings(config_path(args, "config"))
    kinds = zone_kinds(load_catalogue(settings))
    result = read_zone_file(args.file, args.crs, args.fix, args.format, kinds)
    for f in result.fixes:
        print(f"{args.file}: feature {f.index} ({f.zone_id}): fixed {f.code}: {f.message}")
    for p in result.problems:
        print(f"{args.file}: feature {p.index} ({p.zone_id}): {p.severity} {p.code}: {p.message}", file=sys.stderr)
    with resolve_database_url(settings) as url:
        apply_migrations(url, allow_timescale=settings.database.timescaledb)
        with psycopg.connect(url) as conn:
            n = upsert_zones(conn, result.zones, replace=args.replace)
    print(f"imported {n} zone(s), {len(result.errors)} feature(s) rejected, {len(result.fixes)} repair(s)")
    return 1 if result.errors else 0


def _export(args: argparse.Namespace) -> int:
    settings = load_settings(config_path(args, "config"))
    with resolve_database_url(settings) as url, psycopg.connect(url) as conn:
        zones = load_all_zones(conn)
    text = json.dumps(dump_zones(zones, crs=args.crs), ensure_ascii=False, indent=1)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"exported {len(zones)} zone(s) to {args.output}")
    else:
        print(text)
    return 0


def check_point(lon: float, lat: float) -> None:
    """A WGS84 point or an InputError: a point off the globe would otherwise just be "unassigned"."""
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InputError(f"longitude {lon} is outside [-180, 180]")
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InputError(f"latitude {lat} is outside [-90, 90]")


def _locate(args: argparse.Namespace) -> int:
    check_point(args.lon, args.lat)
    settings = load_settings(config_path(args, "config"))
    with resolve_database_url(settings) as url, psycopg.connect(url) as conn:
        registry = ZoneRegistry(load_all_zones(conn))
    j = resolve(registry, args.lon, args.lat)
    print(f"jurisdiction: {j.subject_code} ({j.subject.name if j.subject else '-'}) {j.reason}")
    for z in registry.zones_at(args.lon, args.lat):
        print(f"  {z.kind:<18} {z.id:<20} {z.name}")
    return 0 if j.status == "assigned" else 1
