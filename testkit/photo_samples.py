"""The DJI sample photos in ../shared/samples/dji_photos/ (README there: origin, licence), by role, for the photo
tests; a test reading one skips with a reason when the shared folder is absent (shared_path)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from testkit.paths import shared_path

NADIR = "dji_phantom3_fc300s_nadir_parking_cars_DJI_0028.jpg"
INVALID = "dji_mini3pro_indoor_gps_invalid_DJI_0218.jpg"
OBLIQUE = "dji_mavic3pro_thumb_oblique_xmp.jpg"
TWO = "dji_test_pro_thumb_xmp_two_packets.jpg"
CHICAGO = ZoneInfo("America/Chicago")  # the samples' local time (their EXIF GPS is in Minnesota and Wisconsin)


def sample(name: str) -> bytes:
    return shared_path("samples", "dji_photos", name).read_bytes()
