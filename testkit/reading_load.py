"""A paced background of sensor readings over MQTT for benchmarks: one `mosquitto_pub -l` process per device (C, so
the load takes little of the cores from the gateway it loads), fed every 100 ms to hold `rate` readings/s.

Each message carries two readings (LAeq, LAmax) below every limit; stream time advances with real time, as it does
for real sensors. `seq0` and `t0` let several loads run one after another on the same devices without their
readings being duplicates of each other's (the store keys a reading by device, seq and metric)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from datetime import datetime, timedelta


class PacedLoad:
    def __init__(self, port: int, devices: Sequence[str], rate: float, seconds: float, t0: datetime,
                 seq0: int = 0) -> None:
        self.seconds = seconds
        self.per_step = max(1, round(rate / 2 / len(devices) / 10))  # messages per device per 100 ms
        self.rate = self.per_step * 10 * 2 * len(devices)  # what the rounding makes of the rate asked
        n = int(self.per_step * 10 * seconds) + 1
        dt = 0.1 / self.per_step
        # built before the clock starts, so pacing costs nothing but the writes
        self.lines = [(json.dumps({"ts": (t0 + timedelta(seconds=k * dt)).isoformat(), "seq": seq0 + k,
                                   "readings": {"LAeq": 48.0, "LAmax": 52.0}}) + "\n").encode() for k in range(n)]
        self.procs = [subprocess.Popen(["mosquitto_pub", "-p", str(port), "-q", "1", "-l",
                                        "-t", f"enf/sensor/{d}/reading"], stdin=subprocess.PIPE) for d in devices]
        self.sent = 0  # readings written to the publishers
        self.next_seq = seq0 + n
        self.end_time = t0 + timedelta(seconds=n * dt)

    def run(self) -> None:
        start = time.monotonic()
        step = 0
        while time.monotonic() - start < self.seconds:
            chunk = b"".join(self.lines[step * self.per_step:(step + 1) * self.per_step])
            for p in self.procs:
                p.stdin.write(chunk)
                p.stdin.flush()
            self.sent += 2 * self.per_step * len(self.procs)
            step += 1
            time.sleep(max(0.0, start + step * 0.1 - time.monotonic()))
        for p in self.procs:
            p.stdin.close()
            p.wait()
