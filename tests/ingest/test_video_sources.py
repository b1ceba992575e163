"""Video sources: PTS anchoring, the multipart parser, URL routing, and real reads of files, RTMP (Debian's ffmpeg
serving locally), HLS, HTTP-FLV and MJPEG over local servers."""

from __future__ import annotations

import itertools
import random
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.video.frames import FrameTime
from ingest.video.mjpeg_source import MjpegSource, MultipartParser, boundary_of, open_source, part_timestamp
from ingest.video.pyav_source import PTS_JUMP_S, PtsClock, PyAvSource, av_options, creation_time, is_file_url
from ingest.video.sampling import FpsSampler
from ingest.video.state import SourceEnded, SourceOpenError, SourceStalled
from testkit.stream_servers import (
    MjpegServer,
    RtmpServer,
    RtspServer,
    StaticHttpServer,
    make_flv,
    make_hls,
    rtsp_server_missing,
)
from testkit.video_media import frame_number, jpeg_frames, make_h264

T0 = datetime(2026, 5, 1, 8, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of 320x240 at 25 fps, frame numbers drawn in, recorded 'at' T0."""
    return make_h264(tmp_path_factory.mktemp("video") / "clip.mp4", fps=25, seconds=4.0, creation_time=T0)


# -- pure parts -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "is_file"), [
    ("/data/flight.mp4", True), ("file:///data/flight.mp4", True), ("C:\\v\\a.mp4", True), ("a.mp4", True),
    ("rtsp://cam/1", False), ("rtmp://h/live/s", False), ("http://h/a.flv", False), ("https://h/x.m3u8", False),
])
def test_is_file_url(url: str, is_file: bool) -> None:
    assert is_file_url(url) is is_file


@pytest.mark.parametrize(("url", "transport", "expected"), [
    ("rtsp://cam/1", "udp", {"rw_timeout": "2000000", "analyzeduration": "500000", "rtsp_transport": "udp",
                             "timeout": "2000000"}),
    ("rtmp://h/live/s", "tcp", {"rw_timeout": "2000000", "analyzeduration": "500000"}),
    ("/a.mp4", "tcp", {}),
])
def test_av_options(url: str, transport: str, expected: dict[str, str]) -> None:
    assert av_options(url, rtsp_transport=transport, socket_timeout_s=2.0) == expected


@pytest.mark.parametrize(("meta", "expected"), [
    ({"creation_time": "2026-05-01T08:00:00.000000Z"}, T0),
    ({"creation_time": "2026-05-01T10:00:00+02:00"}, T0),
    ({"creation_time": "2026-05-01 08:00:00"}, T0),  # no zone: UTC, as muxers write it
    ({"creation_time": "1970-01-01T00:00:00Z"}, None),  # an unset camera clock
    ({"creation_time": "yesterday"}, None),
    ({}, None),
])
def test_creation_time(meta: dict[str, str], expected: datetime | None) -> None:
    assert creation_time(meta) == expected


def test_live_pts_anchored_at_first_frame_and_never_in_the_future() -> None:
    c = PtsClock(live=True)
    wall = T0
    # the first frame arrives 1 s late (buffered while probing), the next ones in a burst, then in real time
    arrivals = [(10.0, 1.0), (10.04, 1.001), (10.08, 1.002), (10.5, 1.5), (11.0, 2.0)]
    out = [c.capture_time(p, wall + timedelta(seconds=m), m) for p, m in arrivals]
    assert all(src is FrameTime.STREAM for _, src in out)
    assert out[0][0] == wall + timedelta(seconds=1.0)
    for (t, _), (_, m) in zip(out, arrivals, strict=True):
        assert t <= wall + timedelta(seconds=m)
    # anchored by the frame that came soonest for its PTS (10.08 at 1.002 s): 11.0 was captured at 1.922 s
    assert out[-1][0] == wall + timedelta(seconds=1.922)
    assert c.resets == 0


@pytest.mark.parametrize(("second_pts", "resets"), [
    (10.04, 0),  # normal
    (3.0, 1),  # PTS went back: the encoder restarted
    (10.04 + PTS_JUMP_S + 1, 1),  # PTS leapt forward with no matching wall time
])
def test_live_pts_jumps_re_anchor(second_pts: float, resets: int) -> None:
    c = PtsClock(live=True)
    c.capture_time(10.0, T0, 0.0)
    t, _ = c.capture_time(second_pts, T0 + timedelta(seconds=0.04), 0.04)
    assert c.resets == resets
    if resets:
        assert t == T0 + timedelta(seconds=0.04)  # re-anchored at this frame's arrival


def test_no_pts_is_arrival_time() -> None:
    assert PtsClock(live=True).capture_time(None, T0, 0.0) == (T0, FrameTime.ARRIVAL)


def test_file_pts_from_the_given_start_or_arrival() -> None:
    c = PtsClock(live=False, file_start=T0, start_pts=1.0)
    assert c.capture_time(3.5, T0 + timedelta(days=9), 0.0) == (T0 + timedelta(seconds=2.5), FrameTime.FILE)
    c = PtsClock(live=False)
    arrival = T0 + timedelta(hours=1)
    assert c.capture_time(0.0, arrival, 0.0) == (arrival, FrameTime.ARRIVAL)
    assert c.capture_time(2.0, arrival + timedelta(seconds=0.1), 0.1) == (arrival + timedelta(seconds=2),
                                                                            FrameTime.ARRIVAL)


@pytest.mark.parametrize(("ctype", "boundary"), [
    ("multipart/x-mixed-replace; boundary=frame", "frame"),
    ('multipart/x-mixed-replace;boundary="--myboundary"', "myboundary"),
    ("Multipart/X-Mixed-Replace; charset=x; BOUNDARY=ab", "ab"),
    ("multipart/x-mixed-replace", None),
    ("text/html; charset=utf-8", None),
    ("image/jpeg", None),
])
def test_boundary_of(ctype: str, boundary: str | None) -> None:
    assert boundary_of(ctype) == boundary


@pytest.mark.parametrize(("value", "expected"), [
    ("1777622400.5", T0 + timedelta(seconds=0.5)),
    ("2026-05-01T08:00:00Z", T0),
    ("12", None),  # not a clock
    ("soon", None),
    ("", None),
])
def test_part_timestamp(value: str, expected: datetime | None) -> None:
    assert part_timestamp({"x-timestamp": value}) == expected


def _stream(bodies: list[bytes], with_length: list[bool], boundary: str = "frame", dashes: str = "--") -> bytes:
    out = b"preamble junk\r\n"
    for body, has_len in zip(bodies, with_length, strict=True):
        out += f"{dashes}{boundary}\r\nContent-Type: image/jpeg\r\n".encode()
        if has_len:
            out += f"Content-Length: {len(body)}\r\n".encode()
        out += b"\r\n" + body + b"\r\n"
    return out + f"{dashes}{boundary}\r\n".encode()


@settings(max_examples=150, deadline=None)
@given(bodies=st.lists(st.binary(min_size=1, max_size=300).filter(lambda b: b"--frame" not in b), min_size=1,
                       max_size=6),
       data=st.data())
def test_multipart_parts_survive_any_chunking(bodies: list[bytes], data: st.DataObject) -> None:
    with_length = data.draw(st.lists(st.booleans(), min_size=len(bodies), max_size=len(bodies)))
    raw = _stream(bodies, with_length)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    parser = MultipartParser("frame")
    parts = []
    for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        parts += parser.feed(raw[a:b])
    assert [p.body for p in parts] == bodies
    assert all(p.headers["content-type"] == "image/jpeg" for p in parts)


def test_multipart_wrong_length_resynchronises_on_the_boundary() -> None:
    raw = (b"--frame\r\nContent-Length: 3\r\n\r\nAAAAAA\r\n--frame\r\nContent-Length: 2\r\n\r\nBB\r\n--frame\r\n")
    parts = MultipartParser("frame").feed(raw)
    assert [p.body for p in parts] == [b"AAA", b"BB"]


def test_multipart_oversized_part_is_skipped() -> None:
    parser = MultipartParser("frame", max_part=100)
    parts = parser.feed(b"--frame\r\n\r\n" + b"x" * 500)
    parts += parser.feed(b"\r\n--frame\r\nContent-Length: 2\r\n\r\nok\r\n--frame\r\n")
    assert [p.body for p in parts] == [b"ok"] and parser.skipped == 1


# -- real reads -------------------------------------------------------------------------------------------------

def test_file_frames_timed_from_the_given_start_and_sampled(clip: Path) -> None:
    start = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with PyAvSource(str(clip), file_start=start, sampler=FpsSampler(5)) as src:
        frames = list(src)
    assert [frame_number(f.image) for f in frames] == list(range(0, 100, 5))
    assert [f.capture_time for f in frames] == [start + timedelta(seconds=n / 25) for n in range(0, 100, 5)]
    assert {f.time_source for f in frames} == {FrameTime.FILE}
    assert frames[0].image.shape == (240, 320, 3)
    assert (src.counters.decoded, src.counters.kept, src.counters.dropped_sampling) == (100, 20, 80)


def test_a_damaged_file_has_its_broken_frames_counted_and_dropped(tmp_path: Path) -> None:
    clip = make_h264(tmp_path / "d.mp4", width=320, height=240, seconds=4.0, textured=True, bit_rate=600_000)
    data = bytearray(clip.read_bytes())
    rng = random.Random(3)
    for _ in range(30):  # overwrite runs of bytes in the middle of the coded frames
        at = rng.randrange(len(data) // 5, len(data) * 4 // 5)
        data[at:at + 64] = rng.randbytes(64)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with PyAvSource(str(damaged)) as src:
        numbers = [frame_number(f.image) for f in src]
    assert src.counters.corrupt > 0
    assert 0 < len(numbers) < 100
    assert src.counters.kept + src.counters.corrupt >= 95  # a broken packet may yield no frame at all
    assert numbers[:5] == [0, 1, 2, 3, 4]  # the frames before the damage are whole


def test_file_uri_without_start_uses_creation_time(clip: Path) -> None:
    with PyAvSource(clip.as_uri()) as src:
        first = next(iter(src))
    assert (first.capture_time, first.time_source, first.pts_s) == (T0, FrameTime.FILE, 0.0)


@pytest.mark.slow
def test_rtmp_served_locally_gives_increasing_times_near_the_wall_clock(clip: Path) -> None:
    with RtmpServer(clip) as server, PyAvSource(server.url, open_timeout_s=10, read_timeout_s=5) as src:
        frames = []
        for f in src:
            frames.append((f, datetime.now(UTC)))
            if len(frames) == 40:
                break
    times = [f.capture_time for f, _ in frames]
    assert all(f.time_source is FrameTime.STREAM for f, _ in frames)
    assert all(b > a for a, b in itertools.pairwise(times))
    assert all(timedelta(0) <= got - f.capture_time < timedelta(seconds=3) for f, got in frames)
    numbers = [frame_number(f.image) for f, _ in frames]
    assert numbers == list(range(numbers[0], numbers[0] + 40))
    # after the connect burst, consecutive frames are 1/25 s apart in capture time
    assert times[-1] - times[-2] == timedelta(seconds=0.04)


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_served_by_gstreamer_over_each_transport(clip: Path, transport: str) -> None:
    missing = rtsp_server_missing()
    if missing:
        pytest.skip(missing)
    with RtspServer(clip) as server, PyAvSource(server.url, rtsp_transport=transport, open_timeout_s=10) as src:
        frames = []
        for f in src:
            frames.append((f, datetime.now(UTC)))
            if len(frames) == 25:
                break
    assert [frame_number(f.image) for f, _ in frames] == list(range(25))
    timed = [(f, got) for f, got in frames if f.pts_s is not None]  # RTSP's first frame may come without PTS
    assert len(timed) >= 24 and {f.time_source for f, _ in timed} == {FrameTime.STREAM}
    times = [f.capture_time for f, _ in timed]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(0 < g <= 0.041 for g in gaps)  # PTS spacing, shorter only while the anchor settles
    assert all(timedelta(0) <= got - f.capture_time < timedelta(seconds=3) for f, got in timed)


@pytest.mark.slow
@pytest.mark.parametrize(("server", "transport"), [("rtmp", "tcp"), ("rtsp", "tcp"), ("rtsp", "udp")])
def test_a_live_source_gone_silent_raises_stalled(clip: Path, server: str, transport: str) -> None:
    if server == "rtsp" and (missing := rtsp_server_missing()):
        pytest.skip(missing)
    with (RtmpServer(clip) if server == "rtmp" else RtspServer(clip)) as srv:
        with pytest.raises(SourceStalled) as err, PyAvSource(srv.url, rtsp_transport=transport,
                                                              read_timeout_s=1.0) as src:
            for n, _ in enumerate(src):
                if n == 5:
                    srv.pause()  # the server process frozen: its connection open and silent
        srv.resume()
    assert str(err.value) == "no data for 1 s (read timeout)"


@pytest.mark.parametrize("kind", ["hls", "flv"])
def test_hls_and_http_flv_over_http(clip: Path, tmp_path: Path, kind: str) -> None:
    """Files served over HTTP arrive faster than real time: read as live, every frame comes with a stream time
    that is never in the future and never runs backwards (the burst is anchored to its arrival)."""
    if kind == "hls":
        make_hls(clip, tmp_path / "hls")
        path = "hls/index.m3u8"
    else:
        make_flv(clip, tmp_path / "s.flv")
        path = "s.flv"
    with StaticHttpServer(tmp_path) as http:
        src = open_source(http.url(path))
        assert isinstance(src, PyAvSource)
        frames = []
        with src, pytest.raises(SourceEnded):  # a network source that ends has ended, even if it was a file
            for f in src:
                frames.append(f)
    assert [frame_number(f.image) for f in frames] == list(range(100))
    assert {f.time_source for f in frames} == {FrameTime.STREAM}
    times = [f.capture_time for f in frames]
    assert times == sorted(times) and times[-1] <= datetime.now(UTC)


def test_mjpeg_parts_decoded_corrupt_ones_counted_and_skipped() -> None:
    with MjpegServer(jpeg_frames(30), fps=100, corrupt_every=4, content_length=False) as server:
        src = open_source(server.url)
        assert isinstance(src, MjpegSource)
        with src:
            got = []
            for f in src:
                got.append(frame_number(f.image))
                if len(got) == 12:
                    break
    assert got == [n for n in range(15) if n % 4 != 3]
    assert (src.counters.decoded, src.counters.corrupt) == (15, 3)


def test_mjpeg_x_timestamp_is_stream_time_and_a_url_without_hint_is_probed() -> None:
    with MjpegServer(jpeg_frames(5), fps=50, timestamps=True) as server:
        src = open_source(f"http://127.0.0.1:{server.port}/stream")
        assert isinstance(src, MjpegSource)
        with src:
            f = next(iter(src))
    assert f.time_source is FrameTime.STREAM
    assert abs((datetime.now(UTC) - f.capture_time).total_seconds()) < 5


@pytest.mark.parametrize(("url_kind", "reason", "words"), [
    ("refused", "refused", "Connection refused"),
    ("html", "invalid_data", "Invalid data"),
    ("html_mjpg", "not_video", "not an MJPEG stream"),
    ("garbage", "invalid_data", "Invalid data"),
    ("missing", "not_found", "no such file"),
])
def test_hostile_sources_refused_with_a_clear_error(tmp_path: Path, url_kind: str, reason: str, words: str) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(bytes(range(256)) * 200)
    page = b"<html><body>camera login</body></html>"
    with StaticHttpServer(tmp_path, routes={"/index.html": ("text/html", page),
                                            "/cam.mjpg": ("text/html", page)}) as http:
        url = {"refused": f"http://127.0.0.1:{_closed_port()}/a.mjpg", "html": http.url("index.html"),
               "html_mjpg": http.url("cam.mjpg"), "garbage": str(garbage),
               "missing": str(tmp_path / "nope.mp4")}[url_kind]
        with pytest.raises(SourceOpenError) as err, open_source(url, open_timeout_s=3, read_timeout_s=3):
            pass
    assert err.value.reason == reason
    assert words in str(err.value)


@pytest.mark.parametrize("scheme", ["rtmp", "rtsp", "http"])
def test_a_server_that_never_answers_times_out_on_open(scheme: str) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # connections complete in the backlog; nothing is ever sent
        url = f"{scheme}://127.0.0.1:{silent.getsockname()[1]}/live/s" + (".flv" if scheme == "http" else "")
        with pytest.raises(SourceOpenError) as err, PyAvSource(url, open_timeout_s=0.5, read_timeout_s=0.5):
            pass
    assert err.value.reason == "timeout"
    assert "0.5 s" in str(err.value)


def test_password_never_in_an_error() -> None:
    url = f"rtmp://admin:s3cret@127.0.0.1:{_closed_port()}/live/s"
    with pytest.raises(SourceOpenError) as err, PyAvSource(url, open_timeout_s=2):
        pass
    assert "s3cret" not in str(err.value) and err.value.reason == "refused"


def _closed_port() -> int:
    from testkit.stream_servers import free_port

    return free_port()
