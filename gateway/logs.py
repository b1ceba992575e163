"""Structured logging (structlog): console lines for people, JSON lines for log collectors."""

from __future__ import annotations

import logging

import structlog


def configure_logging(level: str = "INFO", json_format: bool = False) -> None:
    lvl = logging.getLevelName(level.upper())
    if not isinstance(lvl, int):
        raise ValueError(f"log.level: unknown level {level!r}")
    logging.basicConfig(level=lvl, format="%(message)s")
    renderer = structlog.processors.JSONRenderer() if json_format else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        cache_logger_on_first_use=True,
    )
