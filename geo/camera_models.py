"""DJI camera models (EXIF ``Model``) and the intrinsics of a photo from what its metadata carries.

Why a table: EXIF gives a focal length in millimetres, which means nothing without the sensor's size, and a
35 mm equivalent, which DJI rounds (20, 24) and which must be converted against the sensor, not the (possibly
16:9-cropped) image. The sensor sizes below are the nominal active areas of the sensor formats DJI's
specification pages give (1/2.3-inch, 1-inch, 4/3...); each entry names the page. Where DJI lists a focal
length in mm as well, the table's sensor size reproduces the FOV DJI quotes to within about 2 degrees.

Order of preference in :func:`intrinsics_for_photo`:

1. DJI's calibrated focal length and optical centre (XMP ``drone-dji:CalibratedFocalLength``,
   ``CalibratedOpticalCenterX/Y``, pixels of the full-resolution image), scaled to the image;
2. EXIF ``FocalLength`` (mm) with the sensor width from this table;
3. EXIF ``FocalLength`` with ``FocalPlaneXResolution`` (pixels per mm of the full-resolution image);
4. the 35 mm equivalent against the sensor's diagonal (the table's aspect, else 4:3);
5. otherwise :class:`IntrinsicsUnavailable` with a stable reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.camera import DEFAULT_SENSOR_ASPECT, CameraIntrinsics, sensor_extent_px

__all__ = [
    "DJI_CAMERAS",
    "CameraSpec",
    "IntrinsicsUnavailable",
    "camera_spec",
    "focal_plane_px_per_mm",
    "intrinsics_for_photo",
]


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """One camera (lens + sensor) of a model: sensor active area in mm and native still resolution in pixels."""

    model: str
    name: str
    sensor_width_mm: float
    sensor_height_mm: float
    native_width: int
    native_height: int
    source: str
    lens: str = "wide"

    @property
    def aspect(self) -> float:
        """Width / height of the nominal sensor size."""
        return self.sensor_width_mm / self.sensor_height_mm

    @property
    def active_height_mm(self) -> float:
        """The height of the area the native frame covers: the sensor width at the native pixel aspect (square
        pixels). Nominal format sizes are rounded; the pixel counts are exact, and decide how a crop is taken."""
        return self.sensor_width_mm * self.native_height / self.native_width


def _spec(model: str, name: str, w: float, h: float, nw: int, nh: int, source: str, lens: str = "wide") -> CameraSpec:
    return CameraSpec(model, name, w, h, nw, nh, source, lens)


# Nominal active areas of the sensor formats: 1/2.3" 6.17 x 4.55 mm, 1/2" 6.4 x 4.8 mm, 1/1.3" 9.7 x 7.3 mm,
# 1/1.7" 7.6 x 5.7 mm, 1" 13.2 x 8.8 mm, 4/3" 17.3 x 13.0 mm; uncooled 640 x 512 thermal cores at 12 um pitch
# 7.68 x 6.14 mm.
_SPECS: tuple[CameraSpec, ...] = (
    # DJI "Phantom 3 Professional - Specs": 1/2.3" CMOS, 12.4 MP, 4000 x 3000, FOV 94 deg, 20 mm equivalent
    _spec("FC300S", "Phantom 3 Professional", 6.17, 4.55, 4000, 3000, "DJI Phantom 3 Professional specs"),
    # DJI "Phantom 3 4K - Specs": 1/2.3" CMOS, 4000 x 3000
    _spec("FC300X", "Phantom 3 4K / Advanced", 6.17, 4.55, 4000, 3000, "DJI Phantom 3 Advanced specs"),
    # DJI "Phantom 4 - Specs": 1/2.3" CMOS, 12.4 MP, 4000 x 3000, FOV 94 deg, 20 mm
    _spec("FC330", "Phantom 4", 6.17, 4.55, 4000, 3000, "DJI Phantom 4 specs"),
    # DJI "Phantom 4 Pro - Specs": 1" CMOS, 20 MP, 5472 x 3648 (3:2), FOV 84 deg, 8.8 mm / 24 mm
    _spec("FC6310", "Phantom 4 Pro", 13.2, 8.8, 5472, 3648, "DJI Phantom 4 Pro specs"),
    # DJI "Phantom 4 Pro V2.0 - Specs": the same 1" 20 MP camera
    _spec("FC6310S", "Phantom 4 Pro V2.0", 13.2, 8.8, 5472, 3648, "DJI Phantom 4 Pro V2.0 specs"),
    # DJI "Phantom 4 RTK - Specs": 1" CMOS, 20 MP, 5472 x 3648, FOV 84 deg, 8.8 mm / 24 mm
    _spec("FC6310R", "Phantom 4 RTK", 13.2, 8.8, 5472, 3648, "DJI Phantom 4 RTK specs"),
    # DJI "Mavic Pro - Specs": 1/2.3" CMOS, 12.35 MP, 4000 x 3000, FOV 78.8 deg, 26 mm
    _spec("FC220", "Mavic Pro", 6.17, 4.55, 4000, 3000, "DJI Mavic Pro specs"),
    # DJI "Mavic Air 2 - Specs": 1/2" CMOS, 48 MP, 8000 x 6000 (12 MP 4000 x 3000), FOV 84 deg, 24 mm
    _spec("FC3170", "Mavic Air 2", 6.4, 4.8, 8000, 6000, "DJI Mavic Air 2 specs"),
    # DJI "DJI Air 2S - Specs": 1" CMOS, 20 MP, 5472 x 3648 (3:2), FOV 88 deg, 22 mm
    _spec("FC3411", "DJI Air 2S", 13.2, 8.8, 5472, 3648, "DJI Air 2S specs"),
    # DJI "Mavic 3 - Specs", Hasselblad camera: 4/3 CMOS, 20 MP, 5280 x 3956, FOV 84 deg, 24 mm
    _spec("L2D-20c", "Mavic 3 (Hasselblad)", 17.3, 13.0, 5280, 3956, "DJI Mavic 3 specs"),
    # DJI "Mavic 2 Pro - Specs", Hasselblad L1D-20c: 1" CMOS, 20 MP, 5472 x 3648, FOV 77 deg, 28 mm
    _spec("L1D-20c", "Mavic 2 Pro (Hasselblad)", 13.2, 8.8, 5472, 3648, "DJI Mavic 2 Pro specs"),
    # DJI "DJI Mini 2 - Specs": 1/2.3" CMOS, 12 MP, 4000 x 3000, FOV 83 deg, 24 mm. (FC7303 is the Mini 2; the
    # Mini 3 writes FC3682.)
    _spec("FC7303", "DJI Mini 2", 6.17, 4.55, 4000, 3000, "DJI Mini 2 specs"),
    # DJI "DJI Mini 3 - Specs": 1/1.3" CMOS, 48 MP, 8064 x 6048 (12 MP 4032 x 3024), FOV 82.1 deg, 24 mm
    _spec("FC3682", "DJI Mini 3", 9.7, 7.3, 8064, 6048, "DJI Mini 3 specs"),
    # DJI "DJI Mini 3 Pro - Specs": 1/1.3" CMOS, 48 MP, 8064 x 6048 (12 MP 4032 x 3024), FOV 82.1 deg, 24 mm
    _spec("FC3582", "DJI Mini 3 Pro", 9.7, 7.3, 8064, 6048, "DJI Mini 3 Pro specs"),
    # DJI "Mavic 3 Enterprise - Specs", wide camera: 4/3 CMOS, 20 MP, 5280 x 3956, FOV 84 deg, 12.29 mm / 24 mm
    _spec("M3E", "Mavic 3 Enterprise", 17.3, 13.0, 5280, 3956, "DJI Mavic 3 Enterprise specs"),
    # DJI "Mavic 3 Enterprise - Specs" (M3T): wide 1/2" CMOS 48 MP 8000 x 6000, FOV 84 deg, 24 mm;
    # tele 1/2" CMOS 12 MP 4000 x 3000, FOV 15 deg, 162 mm; thermal 640 x 512, 12 um, DFOV 61 deg
    _spec("M3T", "Mavic 3 Thermal", 6.4, 4.8, 8000, 6000, "DJI Mavic 3 Enterprise specs (M3T wide)"),
    _spec("M3T", "Mavic 3 Thermal", 6.4, 4.8, 4000, 3000, "DJI Mavic 3 Enterprise specs (M3T tele)", "tele"),
    _spec("M3T", "Mavic 3 Thermal", 7.68, 6.14, 640, 512, "DJI Mavic 3 Enterprise specs (M3T thermal)", "thermal"),
    # DJI "Zenmuse H20 Series - Specs" (H20T): wide 1/2.3" CMOS 12 MP 4056 x 3040, DFOV 82.9 deg, 4.5 mm;
    # zoom 1/1.7" CMOS 20 MP 5184 x 3888; thermal 640 x 512, 12 um, 13.5 mm, DFOV 40.6 deg
    _spec("ZH20T", "Zenmuse H20T", 6.17, 4.55, 4056, 3040, "DJI Zenmuse H20 Series specs (H20T wide)"),
    _spec("ZH20T", "Zenmuse H20T", 7.6, 5.7, 5184, 3888, "DJI Zenmuse H20 Series specs (H20T zoom)", "zoom"),
    _spec("ZH20T", "Zenmuse H20T", 7.68, 6.14, 640, 512, "DJI Zenmuse H20 Series specs (H20T thermal)", "thermal"),
)

DJI_CAMERAS: dict[str, tuple[CameraSpec, ...]] = {}
for _s in _SPECS:
    DJI_CAMERAS[_s.model.upper()] = (*DJI_CAMERAS.get(_s.model.upper(), ()), _s)


class IntrinsicsUnavailable(ValueError):
    """A photo's metadata does not give its intrinsics; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _fits(spec: CameraSpec, w: int, h: int) -> bool:
    """The image is this camera's native frame, a binned (quad-Bayer 1/2, 1/4) one, or a crop keeping its width."""
    for div in (1, 2, 4):
        nw, nh = spec.native_width // div, spec.native_height // div
        if (w, h) == (nw, nh) or (w == nw and h < nh) or (h == nh and w < nw):
            return True
    return False


def camera_spec(model: str | None, image_w: int, image_h: int) -> CameraSpec | None:
    """The table's camera for an EXIF ``Model`` and image size; with several lenses (M3T, H20T), the one whose
    native frame the image fits; None when unknown or ambiguous."""
    if not model:
        return None
    specs = DJI_CAMERAS.get(model.strip().upper(), ())
    if len(specs) == 1:
        return specs[0]
    fitting = [s for s in specs if _fits(s, image_w, image_h)]
    first = fitting[0] if fitting else None
    if first and all((s.sensor_width_mm, s.active_height_mm) == (first.sensor_width_mm, first.active_height_mm)
                     for s in fitting):
        return first  # the lenses that fit share a sensor (M3T wide in 12 MP mode and tele): either will do
    return None


def focal_plane_px_per_mm(resolution: float, unit: int | None) -> float | None:
    """EXIF ``FocalPlaneXResolution`` in pixels per mm; ``FocalPlaneResolutionUnit`` 2 inch (the default), 3 cm,
    4 mm, 5 um. None for an unknown unit or a non-positive value."""
    per_mm = {2: 25.4, None: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}.get(unit)
    if per_mm is None or resolution <= 0:
        return None
    return resolution / per_mm


def intrinsics_for_photo(
    model: str | None,
    image_w: int,
    image_h: int,
    focal_mm: float | None = None,
    focal_35mm: float | None = None,
    calibrated_focal_px: float | None = None,
    calibrated_cx_px: float | None = None,
    calibrated_cy_px: float | None = None,
    full_w: int | None = None,
    full_h: int | None = None,
    focal_plane_x_px_per_mm: float | None = None,
) -> CameraIntrinsics:
    """Pinhole intrinsics for a decoded photo of ``image_w`` x ``image_h`` pixels (see the module docstring for the
    order). ``full_w``/``full_h`` are the full-resolution image the calibration and the focal-plane resolution
    refer to (EXIF PixelXDimension/PixelYDimension); without them the table's native size (for the calibration)
    or the image itself is assumed. A smaller image is taken as a scaled, then centred-cropped, copy of it.

    Raises :class:`IntrinsicsUnavailable` (``no_size``, ``no_intrinsics``).
    """
    if image_w <= 0 or image_h <= 0:
        raise IntrinsicsUnavailable("no_size", f"image size {image_w} x {image_h}")
    spec = camera_spec(model, image_w, image_h)
    if calibrated_focal_px is not None and calibrated_focal_px > 0:
        fw = full_w or (spec.native_width if spec else image_w)
        fh = full_h or (spec.native_height if spec else image_h)
        scale = image_w / fw
        # a 16:9 image of a 4:3 calibration is the centred crop of the scaled frame
        cx = calibrated_cx_px * scale if calibrated_cx_px else None
        cy = calibrated_cy_px * scale - (fh * scale - image_h) / 2.0 if calibrated_cy_px else None
        return CameraIntrinsics(width=image_w, height=image_h, focal_px=calibrated_focal_px * scale, cx_px=cx,
                                cy_px=cy, source="calibrated")
    if focal_mm is not None and focal_mm > 0 and spec is not None:
        return CameraIntrinsics(width=image_w, height=image_h, focal_mm=focal_mm,
                                sensor_width_mm=spec.sensor_width_mm, sensor_height_mm=spec.active_height_mm,
                                source=f"sensor_table:{spec.model}/{spec.lens} ({spec.source})")
    if focal_mm is not None and focal_mm > 0 and focal_plane_x_px_per_mm:
        # the focal-plane resolution is of the full-resolution frame; the image spans it (or its width) scaled
        fw = full_w or image_w
        fh = full_h or image_h
        sw_px, _ = sensor_extent_px(image_w, image_h, fw / fh)
        fx = focal_mm * focal_plane_x_px_per_mm * (sw_px / fw)
        return CameraIntrinsics(width=image_w, height=image_h, focal_px=fx, source="focal_plane_resolution")
    if focal_35mm is not None and focal_35mm > 0:
        if spec is not None:
            return CameraIntrinsics(width=image_w, height=image_h, f35_mm=focal_35mm,
                                    sensor_width_mm=spec.sensor_width_mm, sensor_height_mm=spec.active_height_mm,
                                    source=f"35mm_equivalent:{spec.model}/{spec.lens}")
        return CameraIntrinsics(width=image_w, height=image_h, f35_mm=focal_35mm, sensor_aspect=DEFAULT_SENSOR_ASPECT,
                                source="35mm_equivalent:4:3_sensor_assumed")
    known = f"camera model {model!r} is not in geo.camera_models" if spec is None else f"model {model!r} is known"
    raise IntrinsicsUnavailable(
        "no_intrinsics",
        f"no drone-dji:CalibratedFocalLength, no usable EXIF FocalLength ({focal_mm}) with a sensor size "
        f"({known}, FocalPlaneXResolution {focal_plane_x_px_per_mm}), and no FocalLengthIn35mmFilm",
    )
