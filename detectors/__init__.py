"""Detectors turn observations into alert events: `detectors.sensors` evaluates the rule catalogue over sensor
readings; detectors for other sources (video) sit beside it as sibling subpackages.

Pure and in-process: no database, no MQTT. The gateway feeds them and stores what they emit.
"""
