"""`run_demo`: start the gateway, load the demo devices, play the scenario, show the summary, stop cleanly.

Stop order: the publisher stops and waits for its PUBACKs, the gateway gets a bounded moment to take in
what the broker already holds, then `Gateway.stop()` flushes and acknowledges every queued batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime

import psycopg
import structlog
from rich.console import Console
from rich.live import Live

from gateway.app import Gateway, HttpMount
from gateway.cases.signing import WebhookSecret
from gateway.cases.sink import CaseSink
from gateway.catalogue import load_catalogue, zone_kinds
from gateway.config import Settings
from gateway.demo import fleet, video_patrol
from gateway.demo.cases import with_demo_cases
from gateway.demo.clock import DEFAULT_START, SimClock, sim_start
from gateway.demo.confirmations import with_demo_confirmations
from gateway.demo.publisher import DemoPublisher
from gateway.demo.render import render_line, render_rich
from gateway.demo.scenario import scenario
from gateway.demo.stats import Snapshot, StoreView, dead_letters_by_reason, histogram_quantile, sample
from gateway.demo.tokens import issue_demo_tokens, sign_in_text
from gateway.demo.zones import import_demo_zones
from gateway.devices import import_devices
from gateway.store.connect import StoreLocation
from gateway.store.migrate import apply_migrations

log = structlog.get_logger(__name__)

PLAIN_EVERY_S = 5.0


@dataclass(frozen=True)
class DemoOptions:
    speed: float = 120.0
    duration_s: float | None = None  # None: until SIGINT/SIGTERM
    seed: int = 7
    ui: bool = True
    start_local: dtime = DEFAULT_START
    install_signals: bool = True
    http_mounts: tuple[HttpMount, ...] = ()  # the console API, when the process serves it


@dataclass(frozen=True)
class DemoResult:
    published: int
    acked: int
    readings_stored: int
    poses_stored: int
    dead_letters: dict[str, int]
    publisher_error: str | None


def load_devices(url: str, kinds: Collection[str]) -> list[str]:
    """Zones first (of `kinds`): device import places each device in the zones at its location."""
    with psycopg.connect(url) as conn:
        zones = import_demo_zones(conn, kinds)
        log.info("demo.zones_loaded", zones=zones)
        result = import_devices(conn, fleet.device_rows())
    if result.errors:  # the shipped file is ours: an error here is a bug, not user input
        raise RuntimeError("demo devices.yaml rejected: " + "; ".join(map(str, result.errors)))
    return result.loaded


def _received(gw: Gateway) -> int:
    return int(sum(s.value for fam in gw.metrics.messages_received.collect() for s in fam.samples
                   if s.name.endswith("_total")))


def snapshot(gw: Gateway, pub: DemoPublisher, clock: SimClock, view: StoreView) -> Snapshot:
    """Runs in a worker thread: the database queries must not block the loop the embedded broker runs on."""
    m = gw.metrics
    p50 = histogram_quantile(m, "enforcegw_flush_seconds", 0.5)
    snap = Snapshot(
        sim_time=pub.sim_time, caught_up=clock.caught_up(), published=pub.sent, acked=pub.acked,
        readings_stored=int(sample(m, "enforcegw_readings_stored_total")),
        poses_stored=int(sample(m, "enforcegw_poses_stored_total")),
        dead_letters=dead_letters_by_reason(m), queue_depth=int(sample(m, "enforcegw_ingest_queue_depth")),
        flush_p50_ms=None if p50 is None else p50 * 1000, devices=[], alerts=[],
        error=repr(pub.error) if pub.error else None,
    )
    try:
        snap.devices = view.devices()
        snap.alerts = view.recent_alerts()
        snap.checkpoint_size = view.checkpoint_size()
    except psycopg.Error as exc:  # the summary must never stop the demo; show the problem instead
        view.close()
        snap.error = snap.error or f"store query failed: {exc}".splitlines()[0]
    return snap


async def run_demo(settings: Settings, options: DemoOptions, console: Console | None = None) -> DemoResult:
    console = console or Console()
    settings = with_demo_confirmations(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    if options.install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread / platform
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
    # The devices go in before the gateway starts: its writer dead-letters readings of devices it does not
    # know yet. So the demo resolves the store itself (starting the embedded PostgreSQL if none is configured)
    # and hands the gateway the resulting URL.
    store = StoreLocation(settings)
    url = await asyncio.to_thread(store.__enter__)
    gw: Gateway | None = None
    pub: DemoPublisher | None = None
    view: StoreView | None = None
    sink: CaseSink | None = None
    video: asyncio.Future[int] | None = None
    try:
        if options.http_mounts:  # with the console, a case system to receive what reviewers approve
            secret = WebhookSecret.generate()
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            sink = CaseSink([secret], data_path=settings.data_dir / "case-sink.jsonl")
            await sink.start()
            settings = with_demo_cases(settings, sink.url + "/tasks", secret)
        else:
            settings = with_demo_cases(settings, None, None)
        await asyncio.to_thread(apply_migrations, url, allow_timescale=settings.database.timescaledb)
        kinds = zone_kinds(load_catalogue(settings))  # the demo's catering zones are of a catalogue kind
        loaded = await asyncio.to_thread(load_devices, url, kinds)
        log.info("demo.devices_loaded", devices=loaded)
        no_video = video_patrol.unavailable()
        if no_video is None:
            settings = video_patrol.with_detection(settings)
        else:
            log.info("demo.no_patrol_video", reason=no_video)
        gw = Gateway(settings.model_copy(update={"database": settings.database.model_copy(update={"url": url})}),
                     http_mounts=list(options.http_mounts))
        await gw.start()
        if options.http_mounts:  # the console API is served: say where, and how to sign in
            tokens = await asyncio.to_thread(issue_demo_tokens, gw.database_url)
            assert gw.http is not None
            console.print(sign_in_text(f"http://{settings.api.host}:{gw.http.port}", tokens,
                                       sink.url if sink is not None else None), highlight=False)
        if not await asyncio.to_thread(gw.source.connected.wait, 30):
            raise RuntimeError(f"gateway did not connect to MQTT at {gw.mqtt_url}")
        real_now = datetime.now(UTC)
        # A sub-second phase that differs per run, so a rerun over the same simulated hours stores new rows
        # instead of being deduplicated against the previous run's (same device, same timestamp).
        start = sim_start(real_now, options.start_local) + timedelta(milliseconds=real_now.microsecond // 1000)
        clock = SimClock(start, options.speed)
        pub = DemoPublisher(gw.mqtt_url, scenario(start, options.seed), clock, mqtt_v5=gw.broker is None)
        await asyncio.to_thread(pub.start)
        if no_video is None:
            video = loop.run_in_executor(None, video_patrol.play, gw.frames.put, start)
        log.info("demo.started", sim_start=start.isoformat(), speed=options.speed, seed=options.seed)
        view = StoreView(gw.database_url, fleet.ALL)
        await _summarise(gw, pub, clock, view, options, stop, console)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if video is not None:  # its frames are in the stage's queue before the gateway stops
            with contextlib.suppress(Exception):
                await asyncio.wait_for(video, 60)
        if pub is not None:
            await asyncio.to_thread(pub.stop)
            if gw is not None:
                await _let_gateway_catch_up(gw, pub.acked)
        if view is not None:
            view.close()
        if gw is not None:
            await gw.stop()
        if sink is not None:
            await sink.stop()
        await asyncio.to_thread(store.__exit__, None, None, None)
    assert gw is not None and pub is not None  # reaching here means both started
    result = DemoResult(pub.sent, pub.acked, int(sample(gw.metrics, "enforcegw_readings_stored_total")),
                        int(sample(gw.metrics, "enforcegw_poses_stored_total")),
                        dead_letters_by_reason(gw.metrics), repr(pub.error) if pub.error else None)
    log.info("demo.finished", **result.__dict__)
    return result


async def _summarise(gw: Gateway, pub: DemoPublisher, clock: SimClock, view: StoreView, options: DemoOptions,
                     stop: asyncio.Event, console: Console) -> None:
    deadline = None if options.duration_s is None else time.monotonic() + options.duration_s
    period = 1.0 if options.ui else PLAIN_EVERY_S
    live = Live(console=console, refresh_per_second=2, transient=False) if options.ui else None
    with live or contextlib.nullcontext():
        while True:
            snap = await asyncio.to_thread(snapshot, gw, pub, clock, view)
            if live is not None:
                live.update(render_rich(snap))
            else:
                print(render_line(snap), file=sys.stdout, flush=True)
            if pub.error is not None or stop.is_set():
                return
            wait = period if deadline is None else min(period, deadline - time.monotonic())
            if wait <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)


async def _let_gateway_catch_up(gw: Gateway, acked: int, timeout_s: float = 10.0) -> None:
    """Wait (bounded) until the gateway has taken every message the broker acknowledged to the publisher."""
    deadline = time.monotonic() + timeout_s
    while _received(gw) < acked and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
