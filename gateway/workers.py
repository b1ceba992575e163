"""Liveness of the gateway's long-lived workers, and what happens when one dies.

Every worker registers here: the threads the gateway starts (as `ThreadWorker`s), paho's network loops and
the NOTIFY listener task (as probes). A supervision pass (`check`, twice a second from the gateway's event
loop) finds a dead one: its `enforcegw_worker_up` gauge drops to 0, `enforcegw_worker_failures_total` rises,
`/healthz` answers 503 naming it with its last error, and it is restarted after a back-off (1 s, doubling,
at most 30 s). A worker that dies again after `max_restarts` restarts within `window_s` is not restarted:
`on_fatal` is called and `enforcegw run` exits with code 70 (EX_SOFTWARE), so the service manager (systemd
`Restart=on-failure`, docker `restart: on-failure`) starts a fresh process. A fresh process also resumes the
MQTT session, and the broker redelivers every message a dead writer had taken but not acknowledged.

Threads heartbeat too: one registered with `stall_after_s` that has not beaten for that long is reported
stalled (503, gauge 0) until it beats again. It is not restarted: a Python thread cannot be stopped from
outside, and a second copy beside a stuck one would do harm.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import structlog

from gateway.metrics import Metrics

# sysexits.h EX_SOFTWARE: an internal error; the service manager should start the process again.
EXIT_WORKER_FAILED = 70

State = Literal["running", "down", "stalled", "failed"]


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 3  # within window_s; one more death and the process exits
    window_s: float = 600.0
    backoff_s: float = 1.0  # before the first restart; doubles with each restart inside the window
    backoff_max_s: float = 30.0

    def delay(self, recent_restarts: int) -> float:
        return min(self.backoff_s * 2 ** recent_restarts, self.backoff_max_s)


@dataclass(frozen=True)
class WorkerStatus:
    name: str
    state: State
    last_error: str | None
    failures: int
    restarts: int
    beat_age_s: float | None

    @property
    def alive(self) -> bool:
        return self.state == "running"

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state, "alive": self.alive, "last_error": self.last_error,
                "failures": self.failures, "restarts": self.restarts,
                "beat_age_s": None if self.beat_age_s is None else round(self.beat_age_s, 1)}


@dataclass
class _Entry:
    name: str
    alive: Callable[[], bool]
    restart: Callable[[], None] | None
    error: Callable[[], str | None]
    stall_after_s: float | None
    state: State = "running"
    last_error: str | None = None
    last_beat: float | None = None
    failures: int = 0
    restarts: int = 0
    restart_at: float = 0.0
    recent: deque[float] = field(default_factory=deque)  # restart times inside the policy window


class WorkerRegistry:
    def __init__(self, metrics: Metrics | None = None, policy: RestartPolicy | None = None, *,
                 on_fatal: Callable[[str, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.policy = policy or RestartPolicy()
        self.on_fatal = on_fatal
        self.clock = clock
        self.fatal: tuple[str, str] | None = None  # (worker, error) once one is beyond restarting
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._log = structlog.get_logger(__name__)

    def watch(self, name: str, alive: Callable[[], bool], *, restart: Callable[[], None] | None = None,
              error: Callable[[], str | None] | None = None, stall_after_s: float | None = None) -> None:
        """Register a worker by its probe; `restart` (None: a death is fatal) brings it back."""
        with self._lock:
            if name in self._entries:
                raise ValueError(f"worker {name!r} is already registered")
            self._entries[name] = _Entry(name, alive, restart, error or (lambda: None), stall_after_s,
                                         last_beat=self.clock())
        self._set_up(name, True)

    def beat(self, name: str) -> None:
        entry = self._entries.get(name)
        if entry is not None:
            entry.last_beat = self.clock()

    def statuses(self) -> dict[str, WorkerStatus]:
        now = self.clock()
        with self._lock:
            return {e.name: WorkerStatus(e.name, e.state, e.last_error, e.failures, e.restarts,
                                         None if e.last_beat is None else now - e.last_beat)
                    for e in self._entries.values()}

    def check(self) -> None:
        """One supervision pass: note deaths and stalls, restart what is due, give up on what keeps dying."""
        with self._lock:
            entries = list(self._entries.values())
        for e in entries:
            if e.state != "failed":
                self._check_one(e, self.clock())

    def _check_one(self, e: _Entry, now: float) -> None:
        if e.state == "down":
            if now >= e.restart_at:
                self._restart(e, now)
            return
        if not e.alive():
            self._died(e, now, e.error() or "stopped without being asked to")
            return
        stalled = (e.stall_after_s is not None and e.last_beat is not None
                   and now - e.last_beat > e.stall_after_s)
        if stalled and e.state == "running":
            e.state = "stalled"
            e.last_error = f"no heartbeat for {now - e.last_beat:.0f} s"  # type: ignore[operator]
            self._set_up(e.name, False)
            self._log.error("worker.stalled", worker=e.name, error=e.last_error)
        elif not stalled and e.state == "stalled":
            e.state = "running"
            self._set_up(e.name, True)
            self._log.warning("worker.resumed", worker=e.name)

    def _died(self, e: _Entry, now: float, error: str) -> None:
        e.failures += 1
        e.last_error = error
        self._set_up(e.name, False)
        if self.metrics is not None:
            self.metrics.worker_failures.labels(e.name).inc()
        while e.recent and now - e.recent[0] > self.policy.window_s:
            e.recent.popleft()
        if e.restart is None or len(e.recent) >= self.policy.max_restarts:
            e.state = "failed"
            self._log.error("worker.failed", worker=e.name, error=error, restarts=len(e.recent),
                            window_s=self.policy.window_s)
            if self.fatal is None:
                self.fatal = (e.name, error)
                if self.on_fatal is not None:
                    self.on_fatal(e.name, error)
            return
        e.state = "down"
        delay = self.policy.delay(len(e.recent))
        e.restart_at = now + delay
        self._log.error("worker.down", worker=e.name, error=error, restart_in_s=delay)

    def _restart(self, e: _Entry, now: float) -> None:
        assert e.restart is not None
        e.recent.append(now)
        e.restarts += 1
        if self.metrics is not None:
            self.metrics.worker_restarts.labels(e.name).inc()
        self._log.warning("worker.restarting", worker=e.name, attempt=len(e.recent),
                          max_restarts=self.policy.max_restarts)
        try:
            e.restart()
        except Exception as exc:
            self._died(e, now, f"restart failed: {type(exc).__name__}: {exc}")
            return
        e.state = "running"
        e.last_beat = now  # a fresh heartbeat window for the new run
        self._set_up(e.name, True)

    def _set_up(self, name: str, up: bool) -> None:
        if self.metrics is not None:
            self.metrics.worker_up.labels(name).set(1 if up else 0)


class ThreadWorker:
    """A daemon thread that records how it ended, so a crash is told from a requested stop and the thread can
    be started again. Without a registry it is a plain thread with the same interface."""

    def __init__(self, name: str, target: Callable[[], None], *, stopping: Callable[[], bool],
                 registry: WorkerRegistry | None = None, stall_after_s: float | None = None) -> None:
        self.name = name
        self.target = target
        self.stopping = stopping
        self.registry = registry
        self.error: str | None = None
        self._failed = False
        self._thread: threading.Thread | None = None
        self._log = structlog.get_logger(__name__)
        if registry is not None:
            registry.watch(name, self.alive, restart=self.start, error=lambda: self.error,
                           stall_after_s=stall_after_s)

    def start(self) -> None:
        self._failed = False
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            self.target()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self._failed = True
            self._log.exception("worker.crashed", worker=self.name)  # the one traceback of this death
            return
        if not self.stopping():
            self.error = "returned without being asked to stop"
            self._failed = True

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._failed

    def beat(self) -> None:
        if self.registry is not None:
            self.registry.beat(self.name)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
