"""Local stream servers for tests and the video bench.

    MjpegServer       HTTP multipart/x-mixed-replace on a plain socket: paced frames, optionally dropping each
                      connection after N frames and then refusing connections for a while (its listener closed),
                      corrupt parts, X-Timestamp headers, parts without Content-Length
    StaticHttpServer  files or fixed responses over HTTP (HLS playlists and segments, .flv files, a non-video page)
    RtmpServer        Debian's ffmpeg serving a file over RTMP in real time (`-re -stream_loop -1 ... -listen 1`),
                      restarted after each client leaves, since ffmpeg's RTMP listener takes one client
    RtspServer        GStreamer's RTSP server (Debian: gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good, run by
                      /usr/bin/python3 with python3-gi) serving an H.264 MP4 in real time, TCP or UDP transport
    make_hls / make_flv  ffmpeg remuxing a test file into an HLS playlist or an FLV file, no re-encode
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Self

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (read from /proc/net/tcp: a probe connection would be taken
    as a client by servers that accept only one)."""
    want = f"0100007F:{port:04X}"
    with contextlib.suppress(OSError), open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[1] == want and parts[3] == "0A":
                return True
    return False


class _StartStop:
    """`with Server(...) as s:` starts it and stops it, whatever happens inside."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MjpegServer(_StartStop):
    """Serves `frames` (JPEG bytes) in a loop at `fps` to every client; the global frame counter runs on across
    connections, so the n-th part served is frames[n % len(frames)].

    `drop_after`: close each connection after that many parts; then, with `refuse_for_s`, close the listener so
    connections are refused for that long. `corrupt_every`: every n-th part's body is garbage. `timestamps`:
    parts carry `X-Timestamp` (Unix seconds). `content_length=False`: parts without Content-Length.
    `stall_after`: after that many parts the connection stays open and silent."""

    def __init__(self, frames: Sequence[bytes], *, fps: float = 25.0, drop_after: int | None = None,
                 refuse_for_s: float = 0.0, corrupt_every: int | None = None, timestamps: bool = False,
                 content_length: bool = True, boundary: str = "frame", stall_after: int | None = None,
                 port: int | None = None) -> None:
        if not frames:
            raise ValueError("no frames to serve")
        self.frames = list(frames)
        self.fps, self.drop_after, self.refuse_for_s = fps, drop_after, refuse_for_s
        self.corrupt_every, self.timestamps, self.content_length = corrupt_every, timestamps, content_length
        self.boundary, self.stall_after = boundary, stall_after
        self.port = port or free_port()
        self.accepted: list[float] = []  # monotonic times of accepted connections
        self.refused_windows: list[tuple[float, float]] = []  # monotonic (start, end) of each refusal
        self.served = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._reopen_at = 0.0
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

    def start(self) -> None:
        self._open_listener()
        t = threading.Thread(target=self._accept_loop, name="mjpeg-server", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._close_listener()
        for t in self._threads:
            t.join(2.0)

    def _open_listener(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        s.settimeout(0.05)
        self._listener = s

    def _close_listener(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    def _refuse(self) -> None:
        with self._lock:
            if self.refuse_for_s <= 0 or self._listener is None:
                return
            self._listener.close()
            self._listener = None
            now = time.monotonic()
            self._reopen_at = now + self.refuse_for_s
            self.refused_windows.append((now, self._reopen_at))

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                listener = self._listener
                if listener is None and time.monotonic() >= self._reopen_at:
                    self._open_listener()
                    listener = self._listener
            if listener is None:
                time.sleep(0.02)
                continue
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(time.monotonic())
            t = threading.Thread(target=self._serve, args=(conn,), name="mjpeg-client", daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5.0)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            conn.sendall(b"HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\n"
                         b"Content-Type: multipart/x-mixed-replace; boundary=" + self.boundary.encode() + b"\r\n\r\n")
            period = 1.0 / self.fps
            next_at = time.monotonic()
            sent = 0
            while not self._stop.is_set():
                if self.drop_after is not None and sent >= self.drop_after:
                    self._refuse()
                    return
                if self.stall_after is not None and sent >= self.stall_after:
                    self._stop.wait(0.05)
                    continue
                with self._lock:
                    n = self.served
                    self.served += 1
                body = self.frames[n % len(self.frames)]
                if self.corrupt_every and n % self.corrupt_every == self.corrupt_every - 1:
                    body = b"\xff\xd8garbage" + bytes(range(256)) * 4
                head = [f"--{self.boundary}", "Content-Type: image/jpeg"]
                if self.content_length:
                    head.append(f"Content-Length: {len(body)}")
                if self.timestamps:
                    head.append(f"X-Timestamp: {time.time():.6f}")
                conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body + b"\r\n")
                sent += 1
                next_at += period
                delay = next_at - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    next_at = time.monotonic()
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


class _Handler(http.server.SimpleHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[str, bytes]]] = {}

    def do_GET(self) -> None:
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            super().do_GET()
            return
        ctype, body = route
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class StaticHttpServer:
    """Files under `root` and fixed `routes` ({path: (content_type, body)}) over HTTP on 127.0.0.1."""

    def __init__(self, root: Path | None = None, routes: dict[str, tuple[str, bytes]] | None = None) -> None:
        handler = type("Handler", (_Handler,), {"routes": dict(routes or {})})
        self._server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(root or Path.cwd())))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="static-http", daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def __enter__(self) -> StaticHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _ServerProcess(_StartStop):
    """A server run as a child process (`_proc`), which tests can freeze and thaw."""

    _proc: subprocess.Popen | None = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and silent."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)


class RtmpServer(_ServerProcess):
    """`ffmpeg -re -stream_loop -1 -i MEDIA -c copy -f flv -listen 1 rtmp://127.0.0.1:PORT/live/s`, restarted
    after each client (ffmpeg's listener serves one client and exits)."""

    def __init__(self, media: Path, *, port: int | None = None, path: str = "live/s") -> None:
        self.media = Path(media)
        self.port = port or free_port()
        self.path = path
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtmp-server", daemon=True)

    @property
    def url(self) -> str:
        return f"rtmp://127.0.0.1:{self.port}/{self.path}"

    def start(self, wait_s: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + wait_s
        while not listening(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"ffmpeg did not listen on {self.port} within {wait_s} s")
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(3.0)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._thread.join(5.0)

    def _run(self) -> None:
        cmd = [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-stream_loop", "-1",
               "-i", str(self.media), "-c", "copy", "-f", "flv", "-listen", "1", self.url]
        while not self._stop.is_set():
            self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.starts += 1
            while self._proc.poll() is None and not self._stop.is_set():
                self._stop.wait(0.05)
            if self._proc.poll() is None:
                return
            self._stop.wait(0.05)


SYSTEM_PYTHON = "/usr/bin/python3"
_RTSP_SCRIPT = """
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer
Gst.init(None)
port, media, mount = sys.argv[1], sys.argv[2], sys.argv[3]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(f'( filesrc location="{media}" ! qtdemux ! rtph264pay name=pay0 pt=96 config-interval=1 )')
factory.set_shared(False)
server.get_mount_points().add_factory(mount, factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
"""


def rtsp_server_missing() -> str | None:
    """Why RtspServer cannot run here (None when it can)."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
                            "from gi.repository import GstRtspServer"], capture_output=True, text=True)
    if probe.returncode != 0:
        return ("GStreamer's RTSP server is not installed (apt-get install gir1.2-gst-rtsp-server-1.0 "
                "gir1.2-gstreamer-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good python3-gi)")
    return None


class RtspServer(_ServerProcess):
    """An H.264 MP4 served at rtsp://127.0.0.1:PORT/live, each client from the file's start, in real time; the
    stream ends with the file."""

    def __init__(self, media: Path, *, port: int | None = None, mount: str = "/live") -> None:
        self.media = Path(media).resolve()
        self.port = port or free_port()
        self.mount = mount
        self._proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.mount}"

    def start(self, wait_s: float = 10.0) -> None:
        self._proc = subprocess.Popen([SYSTEM_PYTHON, "-c", _RTSP_SCRIPT, str(self.port), str(self.media), self.mount],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + wait_s
        while not listening(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"GStreamer's RTSP server did not listen on {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(3.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(3.0)


def _ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def make_hls(media: Path, out_dir: Path, *, segment_s: float = 1.0) -> Path:
    """Remux `media` into `out_dir/index.m3u8` and its segments; returns the playlist."""
    out_dir.mkdir(parents=True, exist_ok=True)
    playlist = out_dir / "index.m3u8"
    _ffmpeg("-i", str(media), "-c", "copy", "-f", "hls", "-hls_time", f"{segment_s:g}", "-hls_list_size", "0",
            str(playlist))
    return playlist


def make_flv(media: Path, out: Path) -> Path:
    """Remux `media` into an FLV file (what an HTTP-FLV server sends)."""
    _ffmpeg("-i", str(media), "-c", "copy", "-f", "flv", str(out))
    return out
