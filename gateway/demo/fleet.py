"""The demo's devices: the shipped `devices.yaml` (package data) and the ids the scenario drives."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

NOISE_SITE = "demo-noise-site-01"
NOISE_RESIDENTIAL = "demo-noise-res-01"
DUST_SITE = "demo-dust-site-01"
FUME_RESTAURANT = "demo-fume-rest-01"
FUME_BARBECUE = "demo-fume-bbq-02"  # calibration expired on purpose: its clues are inadmissible
DRONE = "1581F5BKD22DEMO0001"  # DJI SN style: the aircraft publishes under its own SN
DOCK = "4TADKDEMO0001"
MARKET_CAMERA = "demo-cam-market-01"  # a fixed camera over the night-market street (gateway/demo/video_patrol.py)

SENSORS = (NOISE_SITE, NOISE_RESIDENTIAL, DUST_SITE, FUME_RESTAURANT, FUME_BARBECUE)
ALL = (*SENSORS, DRONE, DOCK)  # what the scenario publishes over MQTT
REGISTERED = (*ALL, MARKET_CAMERA)  # devices.yaml: the camera's frames come through the detection stage


def device_rows() -> list[dict[str, Any]]:
    """The rows of devices.yaml, ready for `gateway.devices.import_devices`."""
    text = resources.files("gateway.demo").joinpath("devices.yaml").read_text(encoding="utf-8")
    return list(yaml.safe_load(text)["devices"])
