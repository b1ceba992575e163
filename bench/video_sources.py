"""Video sources: H.264 decode cost per frame with PyAV, and how many 720p streams sampled to 5 fps one process
reads without falling behind.

    python bench/video_sources.py [--quick] [--source rtmp|file] [--seconds 20] [--max-streams 16]

1. Decode cost. Test clips from testkit/video_media.py (libx264 ultrafast, no B-frames, one key frame a second,
   a panning noisy background at a camera-like bit rate: 2 Mbit/s at 720p, 4 Mbit/s at 1080p) decoded from
   memory-cached files with PyAV, `thread_type="AUTO"`: CPU time (all threads, `time.process_time`) and wall
   time per frame, decode only and decode + `to_ndarray("bgr24")`. Best of --repeat runs.
2. Streams. N StreamWorkers (the gateway's own reader: decode every frame, convert the sampled ones) each read a
   720p@25fps stream sampled to 5 fps into a sink that only records; N grows (1, 2, 3, 4, 6, 8, ...) until
   the process falls behind. `--source rtmp`: each stream is Debian's ffmpeg serving the clip over RTMP in real
   time (`-re ... -c copy`, a remux: its CPU is counted beside ours); `--source file`: the workers read the clip
   as a file paced to its own frame rate (no server processes). A run of --seconds counts as sustained when each
   stream kept >= 90 % of 5 fps and its lag did not grow: lag = now - capture time for RTMP (PTS anchored to
   the wall clock), wall time since the first frame - PTS since the first frame for paced files; the mean lag
   of the run's last third within 0.25 s of its first third, and the p95 of the last third under 1 s.
   Reported against the raw decode limit = cores / (25 x CPU s per decoded 720p frame + 5 x CPU s per
   conversion), and their ratio.
Nothing is asserted: figures are printed. The machine is shared: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import av
from rich.console import Console
from rich.table import Table

from ingest.video.config import StreamConfig, VideoConfig
from ingest.video.frames import Frame
from ingest.video.state import StreamState
from ingest.video.stream_worker import StreamWorker
from testkit.bench_gateway import load_avg
from testkit.stream_servers import RtmpServer
from testkit.video_media import make_h264

console = Console(width=130)
SOURCE_FPS = 25
TARGET_FPS = 5.0
RESOLUTIONS = {"720p": (1280, 720, 2_000_000), "1080p": (1920, 1080, 4_000_000)}


@dataclass
class DecodeCost:
    frames: int
    cpu_decode_s: float
    wall_decode_s: float
    cpu_convert_s: float
    wall_convert_s: float
    mbit_s: float


def decode_cost(path: Path, repeat: int) -> DecodeCost:
    """Per-frame CPU and wall time, decode only and decode + bgr24 conversion (best of `repeat`)."""
    best: dict[str, float] = {}
    frames = 0
    for convert in (False, True):
        for _ in range(repeat):
            with av.open(str(path)) as c:
                s = c.streams.video[0]
                s.thread_type = "AUTO"
                cpu0, wall0, n = time.process_time(), time.perf_counter(), 0
                for f in c.decode(s):
                    if convert:
                        f.to_ndarray(format="bgr24")
                    n += 1
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            frames = n
            key = "convert" if convert else "decode"
            best[f"cpu_{key}"] = min(best.get(f"cpu_{key}", 1e9), cpu / n)
            best[f"wall_{key}"] = min(best.get(f"wall_{key}", 1e9), wall / n)
    with av.open(str(path)) as c:
        seconds = float(c.duration or 1) / 1e6
    return DecodeCost(frames, best["cpu_decode"], best["wall_decode"], best["cpu_convert"], best["wall_convert"],
                      path.stat().st_size * 8 / seconds / 1e6)


@dataclass
class LagSink:
    """Records each frame's lag when the worker hands it on; returns at once."""

    file_paced: bool
    lags: list[float] = field(default_factory=list)
    kept: int = 0
    _origin: tuple[float, float] | None = None

    def put(self, frame: Frame) -> None:
        self.kept += 1
        if not self.file_paced:
            self.lags.append((datetime.now(UTC) - frame.time).total_seconds())
            return
        now = time.monotonic()
        pts = frame.pts_s or 0.0
        if self._origin is None:
            self._origin = (now, pts)
        self.lags.append((now - self._origin[0]) - (pts - self._origin[1]))


@dataclass
class RunResult:
    streams: int
    kept_fps_min: float
    lag_early: float
    lag_late: float
    lag_p95_late: float
    cpu_share: float  # process CPU seconds / wall seconds / cores
    live: int

    @property
    def sustained(self) -> bool:
        return (self.live == self.streams and self.kept_fps_min >= 0.9 * TARGET_FPS
                and self.lag_late <= self.lag_early + 0.25 and self.lag_p95_late < 1.0)


def run_streams(n: int, clip: Path, source: str, seconds: float) -> RunResult:
    servers: list[RtmpServer] = []
    workers: list[tuple[StreamWorker, LagSink]] = []
    try:
        urls = []
        for _ in range(n):
            if source == "rtmp":
                srv = RtmpServer(clip)
                srv.start()
                servers.append(srv)
                urls.append(srv.url)
            else:
                urls.append(str(clip))
        cfgs = [StreamConfig(id=f"s{i}", url=u, device_id=f"cam{i}", fps=TARGET_FPS, stall_after_s=5.0)
                for i, u in enumerate(urls)]
        video = VideoConfig(streams=cfgs)
        for cfg in cfgs:
            sink = LagSink(file_paced=source == "file")
            w = StreamWorker(cfg, video, sink, rng=random.Random(cfg.id))
            workers.append((w, sink))
            w.start()
        # the first frames come after connect and probe; measure from when every stream is live
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(s.kept for _, s in workers):
            time.sleep(0.05)
        for _, s in workers:
            s.lags.clear()
            s.kept = 0
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        live = sum(w.status().state is StreamState.LIVE for w, _ in workers)
        kept = [s.kept / wall for _, s in workers]
        early, late, p95 = [], [], []
        for _, s in workers:
            lags = list(s.lags)
            third = max(len(lags) // 3, 1)
            early.append(statistics.fmean(lags[:third]) if lags else 99.0)
            late.append(statistics.fmean(lags[-third:]) if lags else 99.0)
            tail = sorted(lags[-third:]) or [99.0]
            p95.append(tail[min(int(0.95 * len(tail)), len(tail) - 1)])
        return RunResult(n, min(kept), max(early), max(late), max(p95), cpu / wall / (os.cpu_count() or 1), live)
    finally:
        for w, _ in workers:
            w.stop(2.0)
        for srv in servers:
            srv.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short clips and runs, at most 4 streams")
    ap.add_argument("--source", choices=("rtmp", "file"), default="rtmp", help="what each stream reads")
    ap.add_argument("--seconds", type=float, help="seconds per stream count (default 20, quick 6)")
    ap.add_argument("--max-streams", type=int, help="stop the ramp here (default 24, quick 4)")
    ap.add_argument("--repeat", type=int, default=3, help="decode runs per clip, best kept")
    args = ap.parse_args(argv)
    quick = args.quick
    clip_s = 4.0 if quick else 10.0
    seconds = args.seconds or (6.0 if quick else 20.0)
    max_streams = args.max_streams or (4 if quick else 24)
    cores = os.cpu_count() or 1
    console.print(f"load average at start (1/5/15 min): {load_avg()} on {cores} cores; PyAV {av.__version__}, "
                  f"FFmpeg {av.ffmpeg_version_info}")

    with tempfile.TemporaryDirectory(prefix="enforcegw-video-bench-") as tmp:
        clips = {}
        for name, (w, h, rate) in RESOLUTIONS.items():
            clips[name] = make_h264(Path(tmp) / f"{name}.mp4", width=w, height=h, fps=SOURCE_FPS, seconds=clip_s,
                                    textured=True, bit_rate=rate)
        if args.source == "file":  # an RTMP server loops its clip; a file must outlast the warm-up and the run
            clips["stream"] = make_h264(Path(tmp) / "stream.mp4", width=1280, height=720, fps=SOURCE_FPS,
                                        seconds=seconds + 20.0, textured=True, bit_rate=RESOLUTIONS["720p"][2])
        costs = {name: decode_cost(path, args.repeat) for name, path in clips.items()}
        t = Table(title="H.264 decode per frame (PyAV, thread_type AUTO)")
        for col in ("clip", "Mbit/s", "frames", "decode CPU ms", "decode wall ms", "+bgr24 CPU ms",
                    "+bgr24 wall ms", "decode-only fps per core"):
            t.add_column(col, justify="right")
        for name, c in costs.items():
            t.add_row(name, f"{c.mbit_s:.1f}", str(c.frames), f"{c.cpu_decode_s * 1e3:.2f}",
                      f"{c.wall_decode_s * 1e3:.2f}", f"{c.cpu_convert_s * 1e3:.2f}", f"{c.wall_convert_s * 1e3:.2f}",
                      f"{1 / c.cpu_decode_s:.0f}")
        console.print(t)

        c720 = costs["720p"]
        per_stream_cpu = SOURCE_FPS * c720.cpu_decode_s + TARGET_FPS * (c720.cpu_convert_s - c720.cpu_decode_s)
        raw_decode_only = cores / (SOURCE_FPS * c720.cpu_decode_s)
        raw_limit = cores / per_stream_cpu
        console.print(f"raw limit, 720p@{SOURCE_FPS} sampled to {TARGET_FPS:g} fps: {cores} cores / "
                      f"{per_stream_cpu * 1e3:.1f} ms CPU per stream-second = {raw_limit:.1f} streams "
                      f"(decode only: {raw_decode_only:.1f})")

        t = Table(title=f"720p@{SOURCE_FPS} streams sampled to {TARGET_FPS:g} fps, {args.source} sources, "
                        f"{seconds:g} s each")
        for col in ("streams", "live", "min kept fps", "lag first third s", "lag last third s", "p95 last third s",
                    "CPU share", "sustained"):
            t.add_column(col, justify="right")
        best = 0
        counts = [n for n in (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32) if n <= max_streams]
        for n in counts:
            r = run_streams(n, clips.get("stream", clips["720p"]), args.source, seconds)
            t.add_row(str(n), str(r.live), f"{r.kept_fps_min:.2f}", f"{r.lag_early:.3f}", f"{r.lag_late:.3f}",
                      f"{r.lag_p95_late:.3f}", f"{r.cpu_share:.0%}", "yes" if r.sustained else "no")
            if not r.sustained:
                break
            best = n
        console.print(t)
        capped = best == counts[-1]
        console.print(f"max sustained: {'at least ' if capped else ''}{best} streams; raw limit {raw_limit:.1f}; "
                      f"ratio {'>= ' if capped else ''}{best / raw_limit:.2f}"
                      + (" (the ramp stopped at --max-streams)" if capped else ""))
        console.print(f"load average at end: {load_avg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
