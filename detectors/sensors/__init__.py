"""Sensor rules: the catalogue of limits (`catalogue.yaml`, loaded and validated by `catalogue`), local
overrides, and the windowed rule engine (`engine`) that turns readings into `alerts.AlertEvent`s.

Import from the defining module (`detectors.sensors.engine`, `detectors.sensors.catalogue`, ...).
"""
