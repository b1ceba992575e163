"""Sensor alerts: the rule engine's events persisted as clue candidates, published, and fixed as evidence."""
