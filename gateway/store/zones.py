"""Zones in the store: upsert from a validated import, load into the in-memory registry."""

from __future__ import annotations

import psycopg

from geo.zones import Zone

_UPSERT = """
INSERT INTO zones (id, kind, name, priority, subject_code, spec, source_crs, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, priority = EXCLUDED.priority,
    subject_code = EXCLUDED.subject_code, spec = EXCLUDED.spec, source_crs = EXCLUDED.source_crs, updated_at = now()
"""


def upsert_zones(conn: psycopg.Connection, zones: list[Zone], *, replace: bool = False) -> int:
    """Store `zones` in one transaction; with `replace`, zones not in the list are deleted."""
    with conn.transaction(), conn.cursor() as cur:
        if replace:
            cur.execute("DELETE FROM zones WHERE NOT (id = ANY(%s))", ([z.id for z in zones],))
        cur.executemany(_UPSERT, [_row(z) for z in zones])
    return len(zones)


def _row(z: Zone) -> tuple:
    subject = z.enforcement_subject.code if z.enforcement_subject else None
    return (z.id, z.kind, z.name, z.priority, subject, z.model_dump_json(), z.source_crs or "wgs84")


def load_all_zones(conn: psycopg.Connection) -> list[Zone]:
    """Every stored zone, trusted as stored: its kind was checked against the importing catalogue, and a
    reader (locate, export, the running gateway) need not know that catalogue."""
    rows = conn.execute("SELECT spec FROM zones ORDER BY id").fetchall()
    return [Zone.model_validate(r[0]) for r in rows]
