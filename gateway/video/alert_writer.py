"""Video alerts into the store: the same alert rows and change feed as sensor alerts, with their evidence.

Each event commits in one transaction with its evidence entry:
  open    the alert row (source `video`), an entry holding the best snapshot so far as the sealed original and
          its redacted rendition (the entry names the original's hash beside the rendition's, so one is linked
          to the other inside the signed log)
  update  the row's detail (best score, plate, frames); no entry
  end     the row's end, an entry with the subject's track (boxes per frame; for a drone the camera pose and
          ground point per frame) as JSON and, when the best snapshot changed after the open, that snapshot
          and its rendition
  clip    an entry with the MP4 around the opening (refers to the open entry)
Originals stay for auditors; the rendition hides faces and people outside the alert's track and the plates of
other vehicles (detectors/video/redaction.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import psycopg
import structlog

from detectors.video.redaction import FaceFinder, pixelate, regions_to_hide
from detectors.video.tracks import TrackedObject
from evidence.entry import Entry, Position
from evidence.log import EvidenceLog, MediaInput
from gateway.alerts import store
from gateway.alerts.clues import Clue
from gateway.alerts.detail import detail_for
from gateway.alerts.sinks import AlertChange, SinkFanout
from gateway.video.clips import Clip, encode_mp4
from gateway.video.detection_metrics import DetectionMetrics
from gateway.video.stream_pipeline import AlertMaterial, PipelineEvent
from ingest.video.frames import FrameTime

log = structlog.get_logger(__name__)

_CHANGE = {"open": "new", "update": "update", "end": "end"}
PEOPLE = ("person",)
VEHICLES = ("car", "truck")


@dataclass(frozen=True)
class Where:
    """The alert's place and whose case it is, as the caller resolves it (device registry or geofences)."""

    context: store.AlertContext
    camera: str  # fixed | drone


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("frame could not be encoded as JPEG")
    return data.tobytes()


def seal(conn: psycopg.Connection, sha256: str, rendition: str | None, reason: str) -> None:
    """Mark an original as for auditors only (migration 0099), inside the caller's transaction."""
    conn.execute("INSERT INTO sealed_media (sha256, rendition_sha256, reason) VALUES (%s, %s, %s)"
                 " ON CONFLICT (sha256) DO NOTHING", (sha256, rendition, reason))


class VideoAlertWriter:
    """Called from one thread (the frame stage's); opens its own connection."""

    def __init__(self, database_url: str, evidence: EvidenceLog | None, *, detector_name: str,
                 where: Callable[[PipelineEvent], Where], sinks: SinkFanout | None = None,
                 faces: FaceFinder | None = None, metrics: DetectionMetrics | None = None) -> None:
        self.database_url = database_url
        self.evidence = evidence
        self.detector_name = detector_name
        self.where = where
        self.sinks = sinks
        self.faces = faces
        self.metrics = metrics
        self._conn: psycopg.Connection | None = None
        self.written: dict[str, int] = {"new": 0, "update": 0, "end": 0, "clip": 0}
        self.clue_codes: list[str] = []  # of the alerts this writer opened, in order

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=10)
        return self._conn

    def __call__(self, out: PipelineEvent) -> None:
        if out.clip is not None:
            self._clip(out)
            return
        ev, material = out.event, out.material
        if ev is None or material is None:  # its opening was never seen (written before a failure): nothing to add
            log.warning("video_alerts.no_material", alert_id=ev.alert_id if ev else None)
            return
        where = self.where(out)
        clue = self._clue(out, where)
        conn = self._connection()
        with conn.transaction():
            if ev.type == "open":
                code = store.next_clue_code(conn, where.context.subject_code, ev.start, where.context.tz)
                idx = self._append(conn, out, where, code, "alert_open", refs=[], snapshot=True)
                before = after = store.insert_open(conn, clue, where.context, code, idx)
            else:
                before = store.current(conn, ev.alert_id)
                if before is None:
                    log.warning("video_alerts.unknown_alert", alert_id=ev.alert_id, type=ev.type)
                    return
                if ev.type == "update":
                    after = store.apply_update(conn, clue)
                else:
                    refs = [before["evidence_open_idx"]] if before["evidence_open_idx"] is not None else []
                    snapshot = material.best_frame.time != before["peak_time"]
                    idx = self._append(conn, out, where, before["clue_code"], "alert_end", refs=refs,
                                       snapshot=snapshot, track=True)
                    after = store.apply_end(conn, clue, ev.end_reason, idx)
            if after is None:
                return
            store.record_change(conn, _CHANGE[ev.type], after)
        self.written[_CHANGE[ev.type]] += 1
        if self.metrics is not None:
            self.metrics.count_alert(ev.rule_id, _CHANGE[ev.type])
        if ev.type == "open":
            self.clue_codes.append(after["clue_code"])
        if self.sinks is not None:
            self.sinks.dispatch(AlertChange(_CHANGE[ev.type], after["kind"], before, after))  # type: ignore[arg-type]
        log.info("video_alerts.event", type=ev.type, clue_code=after["clue_code"], rule=ev.rule_id,
                 stream=ev.stream_id, zone=ev.zone_id, score=round(ev.best.score, 3))

    def _clue(self, out: PipelineEvent, where: Where) -> Clue:
        ev, m = out.event, out.material
        assert ev is not None and m is not None
        best = ev.best
        plate = m.plate.best()
        tid = best.track_id.lstrip("t")
        detail = detail_for("video", {
            "detector": self.detector_name, "label": best.kind, "confidence": best.score,
            "track_id": int(tid) if tid.isdigit() else None, "stream_id": ev.stream_id,
            "frame_time": m.best_frame.time, "bbox": tuple(best.box),
            "dwell_s": (ev.last_seen - ev.start).total_seconds(), "object_kind": best.kind, "camera": where.camera,
            "ground": best.ground, "plate": plate.text if plate else None, "plate_kind": plate.kind if plate else None,
            "plate_confidence": plate.confidence if plate else None, "frames": ev.frames,
            "frame_time_source": str(m.best_frame.time_source),
        })
        # A frame timed by its arrival here, not by its source, cannot say when the violation happened.
        reasons = ("frame_time_from_arrival",) if m.best_frame.time_source == FrameTime.ARRIVAL else ()
        end = ev.end if ev.type == "end" else None
        return Clue("video", ev.alert_id, ev.rule_id, ev.rule_id, out.device_id, ev.zone_id, ev.start,
                    m.best_frame.time, end, "medium", not reasons, reasons, detail)

    def _rendition(self, m: AlertMaterial, subject: TrackedObject) -> bytes:
        others = m.best_objects
        keep = [subject.box]
        regions = regions_to_hide(
            keep=keep, faces=self.faces.find(m.best_image) if self.faces else [],
            people=[o.box for o in others if o.kind in PEOPLE and o.track_id != subject.track_id],
            vehicles=[o.box for o in others if o.kind in VEHICLES and o.track_id != subject.track_id])
        return jpeg(pixelate(m.best_image, regions))

    def _append(self, conn: psycopg.Connection, out: PipelineEvent, where: Where, code: str, event: str, *,
                refs: list[int], snapshot: bool, track: bool = False) -> int | None:
        if self.evidence is None:
            return None
        ev, m = out.event, out.material
        assert ev is not None and m is not None
        media: list[MediaInput] = []
        payload: dict[str, object] = {
            "event": event, "clue_code": code, "kind": ev.rule_id, "rule_id": ev.rule_id, "stream_id": ev.stream_id,
            "zone_id": ev.zone_id, "subject_code": where.context.subject_code, "track_id": ev.subject,
            "object_kind": ev.best.kind, "score": round(ev.best.score, 4), "box": [round(v, 1) for v in ev.best.box],
            "best_frame_time": m.best_frame.time.isoformat(), "start": ev.start.isoformat(),
            "end": ev.end.isoformat() if ev.end else None, "end_reason": ev.end_reason, "detector": self.detector_name,
        }
        if snapshot:
            original = jpeg(m.best_image, 95)
            redacted = self._rendition(m, ev.best)
            media += [MediaInput("snapshot_original", "image/jpeg", original),
                      MediaInput("snapshot_redacted", "image/jpeg", redacted)]
            payload["snapshot_original_sha256"] = sealed = hashlib.sha256(original).hexdigest()
            payload["snapshot_redacted_sha256"] = rendition = hashlib.sha256(redacted).hexdigest()
            seal(conn, sealed, rendition, "video_snapshot")
        if track:
            body = {"stream_id": ev.stream_id, "track_id": ev.subject, "points": [p.as_json() for p in m.track]}
            media.append(MediaInput("track", "application/json",
                                    json.dumps(body, ensure_ascii=False, sort_keys=True).encode()))
        plate = m.plate.best()
        if plate is not None:
            payload["plate"] = {"text": plate.text, "kind": plate.kind, "confidence": round(plate.confidence, 4)}
        g = ev.best.ground
        lon, lat = (g[0], g[1]) if g else (where.context.lon, where.context.lat)
        position = Position(lat=lat, lon=lon, datum="WGS84") if lat is not None and lon is not None else None
        entry = Entry(entry_type="evidence", device_id=out.device_id,
                      capture_time=m.best_frame.time if event == "alert_open" else (ev.end or ev.at),
                      time_source=f"video-{m.best_frame.time_source}",
                      position=position, refs=refs, payload=payload)
        (appended,) = self.evidence.append_with(conn, [(entry, media)])
        return appended.index

    def _redacted_clip(self, out: PipelineEvent) -> Clip:
        """The clip with everyone but the subject hidden in each frame: people whole, other vehicles' plate band
        (no face search per frame: a clip is tens of frames, and people outside the track are hidden whole)."""
        clip = out.clip
        assert clip is not None
        frames = []
        for t, data in clip.frames:
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            objects = out.clip_objects.get(t, [])
            subject = [o.box for o in objects if o.track_id == out.clip_subject]
            others = [o for o in objects if o.track_id != out.clip_subject]
            regions = regions_to_hide(keep=subject, people=[o.box for o in others if o.kind in PEOPLE],
                                      vehicles=[o.box for o in others if o.kind in VEHICLES])
            frames.append((t, jpeg(pixelate(image, regions))))
        return Clip(clip.key, clip.at, frames)

    def _clip(self, out: PipelineEvent) -> None:
        clip = out.clip
        assert clip is not None
        if self.evidence is None or not clip.frames:
            return
        conn = self._connection()
        with conn.transaction():
            row = store.current(conn, clip.key)
            if row is None:
                return
            data = encode_mp4(clip)
            redacted = encode_mp4(self._redacted_clip(out))
            opened = row["evidence_open_idx"]
            entry = Entry(entry_type="evidence", device_id=out.device_id, capture_time=clip.at,
                          time_source="video-clip", refs=[opened] if opened is not None else [],
                          payload={"event": "alert_clip", "clue_code": row["clue_code"], "frames": len(clip.frames),
                                   "first": clip.frames[0][0].isoformat(), "last": clip.frames[-1][0].isoformat()})
            entry.payload["clip_original_sha256"] = sealed = hashlib.sha256(data).hexdigest()
            entry.payload["clip_redacted_sha256"] = rendition = hashlib.sha256(redacted).hexdigest()
            (appended,) = self.evidence.append_with(conn, [(entry, [MediaInput("clip_original", "video/mp4", data),
                                                                    MediaInput("clip_redacted", "video/mp4",
                                                                               redacted)])])
            seal(conn, sealed, rendition, "video_clip")
            # the alert names its clip entry, so its detail view and its bundle find it
            conn.execute("UPDATE alerts SET detail = detail || jsonb_build_object('clip_evidence_idx', %s::bigint)"
                         " WHERE id = %s", (appended.index, row["id"]))
        self.written["clip"] += 1
        if self.metrics is not None:
            self.metrics.count_alert(row["rule_id"], "clip")
