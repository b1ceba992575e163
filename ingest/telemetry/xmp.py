"""DJI photo metadata from JPEG bytes: the EXIF IFDs and the XMP packet(s), read without an imaging library.

A DJI still says where it was taken in two places: EXIF (Make, Model, DateTimeOriginal, the GPS IFD, focal
lengths) and the `drone-dji:` XMP namespace (GPS again, relative and absolute altitude, flight and gimbal
attitude, calibrated intrinsics, GPS status). XMP sits in an APP1 `http://ns.adobe.com/xap/1.0/` segment, may be
continued in extended-XMP segments, may come as several packets, and some cameras (Hasselblad on the Mavic 3)
put it inside EXIF as the XMLPacket tag instead. Every packet found is read; a field's first value wins.

`parse_photo_meta(data)` never raises anything but `PhotoMetaError` (reason codes: `not_jpeg`, `truncated`,
`bad_exif`); `photo_pose(meta, device_id, tz)` turns the metadata into a `Pose` or a `Refusal` (reason codes:
`gps_invalid`, `no_position`, `zero_position`, `bad_position`, `no_time`, `bad_time`).
"""

from __future__ import annotations

import html
import math
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo

from ingest.models import PayloadError, Pose

__all__ = ["PhotoMeta", "PhotoMetaError", "Refusal", "parse_photo_meta", "photo_pose", "photo_time"]

_XMP_SIG = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT_SIG = b"http://ns.adobe.com/xmp/extension/\x00"
_EXIF_SIG = b"Exif\x00\x00"
_DJI_NS = "http://www.dji.com/drone-dji/1.0/"
# SOFn markers carry the coded image size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# GpsStatus values that mean the receiver had no usable position (Mini 3 Pro writes "Invalid" indoors).
_NO_FIX_STATUS = {"invalid", "none", "no", "nofix", "no_fix", "0", "false"}
_MAX_IFD_ENTRIES = 1000


class PhotoMetaError(PayloadError):
    """The bytes are not a JPEG whose metadata can be read; `reason` is a stable code."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a photo's metadata gives no usable pose: `reason` a stable code, `detail` which field and value."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class PhotoMeta:
    """What a DJI photo says about itself. Angles in degrees, altitudes in metres, None when absent.

    `width`/`height` are the coded pixel size (SOF): EXIF's PixelX/YDimension or ImageWidth/Length
    (`exif_width`/`exif_height`) may describe the full-size original of a thumbnail. `lat`/`lon` are XMP's
    when it has them, else EXIF GPS's; `position_source` says which. `taken_at` is EXIF DateTimeOriginal (plus
    SubSecTimeOriginal) as written, a local time; `utc_offset` is EXIF OffsetTimeOriginal/OffsetTime when the
    camera wrote one, else the offset of XMP CreateDate when that has the same clock time.
    """

    width: int | None = None
    height: int | None = None
    make: str | None = None
    model: str | None = None
    product: str | None = None  # drone-dji:ProductName or DroneModel
    camera_serial: str | None = None
    taken_at: datetime | None = None
    utc_offset: timedelta | None = None
    xmp_create_date: str | None = None
    lat: float | None = None
    lon: float | None = None
    position_source: str | None = None  # "xmp" | "exif"
    exif_lat: float | None = None
    exif_lon: float | None = None
    exif_alt_m: float | None = None
    rel_alt_m: float | None = None
    abs_alt_m: float | None = None
    altitude_type: str | None = None
    flight_yaw: float | None = None
    flight_pitch: float | None = None
    flight_roll: float | None = None
    gimbal_yaw: float | None = None
    gimbal_pitch: float | None = None
    gimbal_roll: float | None = None
    gimbal_reverse: bool | None = None
    cam_reverse: bool | None = None
    calibrated_focal_px: float | None = None
    calibrated_cx_px: float | None = None
    calibrated_cy_px: float | None = None
    dewarp_data: str | None = None
    gps_status: str | None = None
    rtk_flag: int | None = None
    focal_mm: float | None = None
    focal_35mm: float | None = None
    focal_plane_x_res: float | None = None  # EXIF FocalPlaneXResolution, in focal_plane_unit
    focal_plane_unit: int | None = None  # EXIF FocalPlaneResolutionUnit: 2 inch, 3 cm, 4 mm, 5 um
    exif_width: int | None = None
    exif_height: int | None = None
    xmp_packets: int = 0
    xmp: dict[str, str] = field(default_factory=dict)  # every drone-dji: field, by local name, as written


# --- JPEG segments ---------------------------------------------------------------------------------------


@dataclass
class _Segments:
    exif: bytes | None = None
    xmp: list[bytes] = field(default_factory=list)
    extended: dict[bytes, dict[int, bytes]] = field(default_factory=dict)  # GUID -> offset -> chunk
    size: tuple[int, int] | None = None  # (width, height)


def _segments(data: bytes) -> _Segments:
    if data[:2] != b"\xff\xd8":
        raise PhotoMetaError("not_jpeg", f"the bytes do not start with a JPEG SOI marker (got {data[:4].hex()!r})")
    out = _Segments()
    i, n = 2, len(data)
    while True:
        while i < n and data[i] == 0xFF and i + 1 < n and data[i + 1] == 0xFF:
            i += 1  # fill bytes before a marker
        if i + 2 > n:
            raise PhotoMetaError("truncated", f"the JPEG ends at byte {n} before its image data (no SOS marker)")
        if data[i] != 0xFF:
            raise PhotoMetaError("not_jpeg", f"expected a marker at byte {i}, found 0x{data[i]:02x}")
        marker = data[i + 1]
        if marker == 0xD9:
            raise PhotoMetaError("truncated", f"the JPEG has an EOI marker at byte {i} before any image data")
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if i + 4 > n:
            raise PhotoMetaError("truncated", f"the JPEG ends inside the marker at byte {i}")
        length = struct.unpack_from(">H", data, i + 2)[0]
        if length < 2 or i + 2 + length > n:
            raise PhotoMetaError("truncated", f"segment 0x{marker:02x} at byte {i} declares {length} bytes but the "
                                 f"data ends {n - i - 2} bytes later")
        body = data[i + 4:i + 2 + length]
        if marker == 0xDA:
            return out
        if marker == 0xE1:
            _app1(out, body)
        elif marker in _SOF and len(body) >= 5:
            h, w = struct.unpack_from(">HH", body, 1)
            out.size = (w, h)
        i += 2 + length


def _app1(out: _Segments, body: bytes) -> None:
    if body.startswith(_EXIF_SIG):
        if out.exif is None:
            out.exif = body[len(_EXIF_SIG):]
    elif body.startswith(_XMP_SIG):
        out.xmp.append(body[len(_XMP_SIG):])
    elif body.startswith(_XMP_EXT_SIG) and len(body) >= len(_XMP_EXT_SIG) + 40:
        p = len(_XMP_EXT_SIG)
        guid = body[p:p + 32]
        offset = struct.unpack_from(">I", body, p + 36)[0]
        out.extended.setdefault(guid, {})[offset] = body[p + 40:]


# --- EXIF (TIFF IFDs) ------------------------------------------------------------------------------------

_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
Value = str | bytes | tuple[float, ...]


class _Tiff:
    def __init__(self, data: bytes) -> None:
        if len(data) < 8 or data[:2] not in (b"II", b"MM"):
            raise PhotoMetaError("bad_exif", "the Exif segment has no TIFF header (II or MM)")
        self.data = data
        self.e = "<" if data[:2] == b"II" else ">"
        if struct.unpack_from(self.e + "H", data, 2)[0] != 42:
            raise PhotoMetaError("bad_exif", "the Exif segment's TIFF header lacks the magic number 42")

    def ifd(self, offset: int) -> dict[int, Value]:
        """Tags of the IFD at `offset`; an entry that points outside the segment is left out."""
        d, e = self.data, self.e
        if offset < 8 or offset + 2 > len(d):
            raise PhotoMetaError("bad_exif", f"an IFD offset {offset} lies outside the {len(d)}-byte Exif segment")
        count = struct.unpack_from(e + "H", d, offset)[0]
        if count > _MAX_IFD_ENTRIES or offset + 2 + 12 * count > len(d):
            raise PhotoMetaError("bad_exif", f"the IFD at {offset} declares {count} entries past the segment's end")
        tags: dict[int, Value] = {}
        for k in range(count):
            tag, typ, n = struct.unpack_from(e + "HHI", d, offset + 2 + 12 * k)
            size = _TYPE_SIZE.get(typ)
            if size is None or n > len(d):
                continue
            total = size * n
            at = offset + 2 + 12 * k + 8
            if total > 4:
                at = struct.unpack_from(e + "I", d, at)[0]
            if at + total > len(d):
                continue
            tags[tag] = self._value(typ, n, d[at:at + total])
        return tags

    def _value(self, typ: int, n: int, raw: bytes) -> Value:
        e = self.e
        if typ == 2:
            return raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()
        if typ in (1, 7):
            return raw
        if typ in (5, 10):
            parts = struct.unpack(e + ("I" if typ == 5 else "i") * (2 * n), raw)
            return tuple(parts[j] / parts[j + 1] if parts[j + 1] else math.nan for j in range(0, 2 * n, 2))
        fmt = {3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 11: "f", 12: "d"}[typ]
        return tuple(float(x) for x in struct.unpack(e + fmt * n, raw))


@dataclass
class _Exif:
    ifd0: dict[int, Value] = field(default_factory=dict)
    exif: dict[int, Value] = field(default_factory=dict)
    gps: dict[int, Value] = field(default_factory=dict)


def _read_exif(data: bytes) -> _Exif:
    t = _Tiff(data)
    out = _Exif(ifd0=t.ifd(struct.unpack_from(t.e + "I", data, 4)[0]))
    for tag, attr in ((0x8769, "exif"), (0x8825, "gps")):
        ptr = out.ifd0.get(tag)
        if isinstance(ptr, tuple) and ptr:
            setattr(out, attr, t.ifd(int(ptr[0])))
    return out


def _num(v: Value | None) -> float | None:
    if isinstance(v, tuple) and v and math.isfinite(v[0]):
        return v[0]
    return None


def _text(v: Value | None) -> str | None:
    if isinstance(v, bytes):
        v = v.split(b"\x00", 1)[0].decode("ascii", "replace").strip()
    return v or None if isinstance(v, str) else None


def _dms(v: Value | None, ref: Value | None, negative: str) -> float | None:
    if not isinstance(v, tuple) or len(v) != 3 or not all(math.isfinite(x) for x in v):
        return None
    deg = v[0] + v[1] / 60.0 + v[2] / 3600.0
    return -deg if (_text(ref) or "").upper().startswith(negative) else deg


# --- XMP -------------------------------------------------------------------------------------------------

_NS_DECL = re.compile(r'xmlns:([A-Za-z_][\w.-]*)\s*=\s*["\']([^"\']*)["\']')


def _xmp_fields(packet: str) -> dict[str, str]:
    """`drone-dji:` fields (and tiff:/xmp: ones under their prefixed names) as attributes or simple elements."""
    prefixes = {p for p, uri in _NS_DECL.findall(packet) if uri == _DJI_NS} or {"drone-dji"}
    found: dict[str, str] = {}
    names = "|".join(re.escape(p) for p in sorted(prefixes | {"tiff", "xmp", "exif"}))
    attr = re.compile(rf'(?<![\w.-])({names}):([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
    elem = re.compile(rf"<({names}):([A-Za-z_][\w.-]*)>([^<]*)</\1:\2>")
    for m in attr.finditer(packet):
        found.setdefault(_key(m.group(1), m.group(2), prefixes), html.unescape(m.group(3) or m.group(4) or ""))
    for m in elem.finditer(packet):
        found.setdefault(_key(m.group(1), m.group(2), prefixes), html.unescape(m.group(3)).strip())
    return found


def _key(prefix: str, name: str, dji: set[str]) -> str:
    return name if prefix in dji else f"{prefix}:{name}"


def _packets(seg: _Segments, exif: _Exif) -> list[str]:
    raw = []
    embedded = exif.ifd0.get(0x02BC)  # XMLPacket: XMP carried inside EXIF
    if isinstance(embedded, bytes | str):
        raw.append(embedded.encode() if isinstance(embedded, str) else embedded)
    raw += seg.xmp
    for chunks in seg.extended.values():
        raw.append(b"".join(chunks[k] for k in sorted(chunks)))
    return [r.decode("utf-8", "replace") for r in raw if b"<" in r]


def _float(s: str | None) -> float | None:
    if s is None:
        return None
    try:
        v = float(s.strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _flag(s: str | None) -> bool | None:
    v = (s or "").strip().lower()
    return {"1": True, "true": True, "0": False, "false": False}.get(v)


# --- dates -----------------------------------------------------------------------------------------------

_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


def _offset(s: str | None) -> timedelta | None:
    s = (s or "").strip()
    if s == "Z":
        return timedelta(0)
    m = _OFFSET.fullmatch(s)
    if m is None:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3))
    if hours > 14 or minutes > 59:  # no zone is further from UTC than +14:00
        return None
    return (-1 if m.group(1) == "-" else 1) * timedelta(hours=hours, minutes=minutes)


def _exif_time(original: str | None, subsec: str | None) -> datetime | None:
    if not original:
        return None
    try:
        t = datetime.strptime(original.strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    digits = re.sub(r"\D", "", subsec or "")[:6]
    return t.replace(microsecond=int(digits.ljust(6, "0"))) if digits else t


def _xmp_offset(create: str | None, taken: datetime | None) -> timedelta | None:
    """XMP CreateDate's offset, trusted only when its clock time is DateTimeOriginal's (same moment, same zone)."""
    if not create or taken is None or "T" not in create:
        return None
    try:
        when = datetime.fromisoformat(create.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None or when.replace(tzinfo=None) != taken.replace(microsecond=0):
        return None
    return when.utcoffset()


# --- the parser ------------------------------------------------------------------------------------------


def parse_photo_meta(data: bytes) -> PhotoMeta:
    """Read a JPEG's EXIF and DJI XMP. Raises only `PhotoMetaError` (not a JPEG, truncated, unreadable EXIF)."""
    seg = _segments(data)
    try:
        exif = _read_exif(seg.exif) if seg.exif is not None else _Exif()
    except struct.error as exc:  # a field read past a short segment: the bounds checks above should prevent it
        raise PhotoMetaError("bad_exif", f"the Exif segment is malformed: {exc}") from None
    packets = _packets(seg, exif)
    x: dict[str, str] = {}
    for p in packets:
        for k, v in _xmp_fields(p).items():
            x.setdefault(k, v)
    ex, gps, ifd0 = exif.exif, exif.gps, exif.ifd0
    exif_lat = _dms(gps.get(2), gps.get(1), "S")
    exif_lon = _dms(gps.get(4), gps.get(3), "W")
    alt = _num(gps.get(6))
    if alt is not None and isinstance(gps.get(5), bytes) and gps[5][:1] == b"\x01":
        alt = -alt
    xlat = _float(x.get("GpsLatitude"))
    xlon = _float(x.get("GpsLongitude", x.get("GpsLongtitude")))
    use_xmp = xlat is not None and xlon is not None
    use_exif = not use_xmp and exif_lat is not None and exif_lon is not None
    taken = _exif_time(_text(ex.get(0x9003)) or _text(ex.get(0x9004)),  # not IFD0 DateTime: an edit time
                       _text(ex.get(0x9291)) or _text(ex.get(0x9290)))
    offset = _offset(_text(ex.get(0x9011)) or _text(ex.get(0x9010)))
    create = x.get("xmp:CreateDate")
    if offset is None:
        offset = _xmp_offset(create, taken)
    rtk = _float(x.get("RtkFlag"))
    dewarp = x.get("DewarpData") or None
    return PhotoMeta(
        width=seg.size[0] if seg.size else None, height=seg.size[1] if seg.size else None,
        make=_text(ifd0.get(0x010F)) or x.get("tiff:Make") or None,
        model=_text(ifd0.get(0x0110)) or x.get("tiff:Model") or None,
        product=x.get("ProductName") or x.get("DroneModel") or None,
        camera_serial=x.get("CameraSerialNumber") or None,
        taken_at=taken, utc_offset=offset, xmp_create_date=create,
        lat=xlat if use_xmp else exif_lat if use_exif else None,
        lon=xlon if use_xmp else exif_lon if use_exif else None,
        position_source="xmp" if use_xmp else "exif" if use_exif else None,
        exif_lat=exif_lat, exif_lon=exif_lon, exif_alt_m=alt,
        rel_alt_m=_float(x.get("RelativeAltitude")), abs_alt_m=_float(x.get("AbsoluteAltitude")),
        altitude_type=x.get("AltitudeType") or None,
        flight_yaw=_float(x.get("FlightYawDegree")), flight_pitch=_float(x.get("FlightPitchDegree")),
        flight_roll=_float(x.get("FlightRollDegree")),
        gimbal_yaw=_float(x.get("GimbalYawDegree")), gimbal_pitch=_float(x.get("GimbalPitchDegree")),
        gimbal_roll=_float(x.get("GimbalRollDegree")),
        gimbal_reverse=_flag(x.get("GimbalReverse")), cam_reverse=_flag(x.get("CamReverse")),
        calibrated_focal_px=_float(x.get("CalibratedFocalLength")),
        calibrated_cx_px=_float(x.get("CalibratedOpticalCenterX")),
        calibrated_cy_px=_float(x.get("CalibratedOpticalCenterY")),
        dewarp_data=dewarp, gps_status=x.get("GpsStatus") or None,
        rtk_flag=int(rtk) if rtk is not None else None,
        focal_mm=_num(ex.get(0x920A)), focal_35mm=_num(ex.get(0xA405)),
        focal_plane_x_res=_num(ex.get(0xA20E)), focal_plane_unit=_int(ex.get(0xA210)),
        exif_width=_int(ex.get(0xA002)) or _int(ifd0.get(0x0100)),
        exif_height=_int(ex.get(0xA003)) or _int(ifd0.get(0x0101)),
        xmp_packets=len(packets), xmp={k: v for k, v in x.items() if ":" not in k},
    )


def _int(v: Value | None) -> int | None:
    n = _num(v)
    return int(n) if n is not None else None


# --- pose ------------------------------------------------------------------------------------------------


def photo_time(meta: PhotoMeta, tz: tzinfo) -> datetime | Refusal:
    """The capture time, zone-aware: the photo's own offset when it has one, else `tz` (DJI writes local time)."""
    if meta.taken_at is None:
        return Refusal("no_time", "the photo has no EXIF DateTimeOriginal (XMP CreateDate "
                       f"{meta.xmp_create_date!r} carries no usable time of day)")
    if meta.utc_offset is not None:
        return meta.taken_at.replace(tzinfo=timezone(meta.utc_offset))
    try:
        return meta.taken_at.replace(tzinfo=tz).astimezone(tz)
    except (OverflowError, ValueError) as exc:
        return Refusal("bad_time", f"DateTimeOriginal {meta.taken_at.isoformat()} in {tz}: {exc}")


def _position_refusal(meta: PhotoMeta) -> Refusal | None:
    if meta.gps_status is not None and meta.gps_status.strip().lower() in _NO_FIX_STATUS:
        return Refusal("gps_invalid", f"drone-dji:GpsStatus is {meta.gps_status!r}: the receiver had no fix "
                       f"(position written {meta.lat}, {meta.lon})")
    if meta.lat is None or meta.lon is None:
        return Refusal("no_position", "the photo has neither drone-dji:GpsLatitude/GpsLongitude nor EXIF GPS")
    if abs(meta.lat) < 1e-7 and abs(meta.lon) < 1e-7:
        return Refusal("zero_position", f"the {meta.position_source} position is 0,0: DJI's 'no position', "
                       "never a real one")
    if not (-90.0 <= meta.lat <= 90.0 and -180.0 <= meta.lon <= 180.0):
        return Refusal("bad_position", f"the {meta.position_source} position {meta.lat}, {meta.lon} is out of range")
    return None


def photo_pose(meta: PhotoMeta, device_id: str, tz: tzinfo) -> Pose | Refusal:
    """The pose a photo was taken from (source "xmp"), or why it has none usable."""
    refused = _position_refusal(meta)
    if refused is not None:
        return refused
    when = photo_time(meta, tz)
    if isinstance(when, Refusal):
        return when
    extra: dict[str, object] = {
        k: v for k, v in (
            ("position_source", meta.position_source), ("gps_status", meta.gps_status),
            ("rtk_flag", meta.rtk_flag), ("altitude_type", meta.altitude_type),
            ("gimbal_reverse", meta.gimbal_reverse), ("cam_reverse", meta.cam_reverse),
            ("make", meta.make), ("model", meta.model), ("product", meta.product),
            ("utc_offset", "photo" if meta.utc_offset is not None else f"given:{tz}"),
        ) if v is not None}
    hfov = None
    if meta.calibrated_focal_px and meta.width and meta.exif_width in (None, meta.width):
        hfov = math.degrees(2.0 * math.atan(meta.width / (2.0 * meta.calibrated_focal_px)))
    return Pose(time=when, device_id=device_id, lat=meta.lat, lon=meta.lon, alt_rel_m=meta.rel_alt_m,
                alt_abs_m=meta.abs_alt_m, yaw=meta.flight_yaw, pitch=meta.flight_pitch, roll=meta.flight_roll,
                gimbal_yaw=meta.gimbal_yaw, gimbal_pitch=meta.gimbal_pitch, gimbal_roll=meta.gimbal_roll,
                hfov_deg=hfov, source="xmp", extra=extra)
