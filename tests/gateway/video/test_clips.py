"""Evidence clips: the ring buffer keeps what a clip needs and no more, hands each clip back once its after-window
has passed, refuses bad input plainly, and the MP4 it encodes plays back at the frames' capture times."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import av
import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.video import clips
from gateway.video.clips import Clip, ClipBuffer, encode_mp4

T0 = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
IMAGE = np.zeros((6, 8, 3), np.uint8)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def offsets(clip: Clip) -> list[int]:
    return [round((t - T0) / timedelta(milliseconds=1)) for t, _ in clip.frames]


def gradient(height: int = 48, width: int = 64) -> np.ndarray:
    x = np.linspace(0, 255, width)[None, :]
    y = np.linspace(0, 255, height)[:, None]
    return np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                     (x + y) / 2], axis=2).astype(np.uint8)


@pytest.mark.parametrize(("before_s", "after_s", "frames_ms", "request_ms", "clip_ms", "done_after"), [
    # window [1000, 3000]: frames outside it stay out; the frame at exactly at + after_s closes it and is in it
    (1.0, 1.0, [0, 500, 1000, 1500, 2000, 2500, 3000, 3500], 2000, [1000, 1500, 2000, 2500, 3000], 3000),
    # no frame lands on the window's end: the first one past it closes the clip but is not part of it
    (1.0, 1.0, [0, 900, 1800, 2700, 3600], 2000, [1800, 2700], 3600),
    # after_s = 0: the frame at `at` itself closes the clip
    (0.5, 0.0, [0, 400, 800, 1200], 800, [400, 800], 800),
    # before_s = 0 and frames that come at a ragged rate
    (0.0, 1.0, [0, 100, 1150, 1300, 1900, 2100], 1100, [1150, 1300, 1900, 2100], 2100),
])
def test_a_clip_holds_the_frames_of_its_window_and_comes_back_once_it_has_passed(
        before_s: float, after_s: float, frames_ms: list[int], request_ms: int, clip_ms: list[int],
        done_after: int) -> None:
    buf = ClipBuffer(before_s, after_s)
    returned: dict[int, list[Clip]] = {}
    asked = False
    for ms in frames_ms:
        if ms >= request_ms and not asked:
            buf.request("alert-1", at(request_ms))  # at the event: the frames before `at` are already held
            asked = True
        returned[ms] = buf.add(at(ms), IMAGE)
    assert [ms for ms, got in returned.items() if got] == [done_after]
    (clip,) = returned[done_after]
    assert (clip.key, clip.at, offsets(clip)) == ("alert-1", at(request_ms), clip_ms)
    assert all(jpeg[:2] == b"\xff\xd8" for _, jpeg in clip.frames)
    assert buf.pending == set()


def test_frames_already_held_count_and_a_pending_key_is_asked_for_once() -> None:
    buf = ClipBuffer(2.0, 1.0)
    for ms in (0, 1000, 2000):
        assert buf.add(at(ms), IMAGE) == []
    buf.request("a", at(2000))
    buf.request("a", at(2500))  # ignored: the first `at` stands
    assert buf.pending == {"a"}
    (clip,) = buf.add(at(3000), IMAGE)
    assert (clip.at, offsets(clip)) == (at(2000), [0, 1000, 2000, 3000])
    buf.request("a", at(3000))  # no longer pending: a new clip under the same key
    assert [offsets(c) for c in buf.add(at(4000), IMAGE)] == [[1000, 2000, 3000, 4000]]


def test_old_frames_go_unless_a_pending_clip_still_needs_them() -> None:
    buf = ClipBuffer(1.0, 10.0)
    for ms in range(0, 3001, 500):
        buf.add(at(ms), IMAGE)
    assert len(buf) == 3  # 2000, 2500, 3000: within before_s of the newest
    buf.request("long", at(2500))  # needs 1500 onward: 1500 is gone already, 2000 on is kept from now
    for ms in range(3500, 6001, 500):
        assert buf.add(at(ms), IMAGE) == []
    assert len(buf) == 9  # 2000 .. 6000
    (clip,) = buf.flush()
    assert offsets(clip) == list(range(2000, 6001, 500))


def test_max_frames_bounds_what_is_held_even_for_a_pending_clip() -> None:
    buf = ClipBuffer(100.0, 100.0, max_frames=3)
    buf.request("k", at(0))
    for ms in range(0, 1000, 100):
        buf.add(at(ms), IMAGE)
        assert len(buf) <= 3
    assert buf.dropped_over_capacity == 7
    (clip,) = buf.flush()
    assert offsets(clip) == [700, 800, 900]  # the oldest went first


def test_flush_hands_back_every_pending_clip_with_what_it_has_and_empties_the_buffer() -> None:
    buf = ClipBuffer(1.0, 5.0)
    assert buf.flush() == []
    for ms in (0, 500, 1000):
        buf.add(at(ms), IMAGE)
    buf.request("x", at(500))
    buf.request("y", at(9000))  # nothing of its window arrived
    got = {c.key: offsets(c) for c in buf.flush()}
    assert got == {"x": [0, 500, 1000], "y": []}
    assert (buf.pending, len(buf)) == (set(), 0)


@pytest.mark.parametrize(("frames_ms", "held", "dropped"), [
    ([0, 100, 200], [0, 100, 200], 0),
    ([0, 200, 100, 300], [0, 200, 300], 1),
    ([500, 0, 100, 600], [500, 600], 2),
    ([0, 100, 100, 200], [0, 100, 100, 200], 0),  # equal times are not out of order
])
def test_frames_older_than_the_newest_are_dropped_and_counted(frames_ms: list[int], held: list[int],
                                                              dropped: int) -> None:
    buf = ClipBuffer(10.0, 10.0)
    buf.request("k", at(0))
    for ms in frames_ms:
        buf.add(at(ms), IMAGE)
    assert buf.dropped_out_of_order == dropped
    assert offsets(buf.flush()[0]) == held


@pytest.mark.parametrize(("image", "message"), [
    (np.zeros((6, 8), np.uint8), "shape"),
    (np.zeros((6, 8, 4), np.uint8), "shape"),
    (np.zeros((6, 8, 3), np.float32), "uint8"),
    (np.zeros((0, 8, 3), np.uint8), "empty"),
    ([[[0, 0, 0]]], "list"),
])
def test_an_image_that_is_not_hxwx3_uint8_is_refused_plainly(image: object, message: str) -> None:
    buf = ClipBuffer(1.0, 1.0)
    with pytest.raises(ValueError, match=message):
        buf.add(T0, image)  # type: ignore[arg-type]
    assert len(buf) == 0


@pytest.mark.parametrize("call", [
    lambda b: b.add(datetime(2026, 12, 2, 4, 0), IMAGE),
    lambda b: b.request("k", datetime(2026, 12, 2, 4, 0)),
    lambda b: b.add("2026-12-02T04:00:00Z", IMAGE),
])
def test_a_naive_or_non_datetime_time_is_refused(call) -> None:
    buf = ClipBuffer(1.0, 1.0)
    with pytest.raises(ValueError, match=r"timezone-aware|must be a datetime"):
        call(buf)
    assert (len(buf), buf.pending) == (0, set())


@pytest.mark.parametrize("kwargs", [
    {"before_s": -1.0, "after_s": 1.0}, {"before_s": 1.0, "after_s": float("nan")},
    {"before_s": 1.0, "after_s": 1.0, "max_frames": 0}, {"before_s": 1.0, "after_s": 1.0, "jpeg_quality": 101},
])
def test_bad_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ClipBuffer(**kwargs)


ops = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(-300, 1500)),  # ms after the previous frame; negative is out of order
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(-3000, 3000)),  # request at newest + offset ms
), max_size=40)


@settings(max_examples=60, deadline=None)
@given(ops=ops, before_ms=st.integers(0, 3000), after_ms=st.integers(0, 3000), max_frames=st.integers(1, 8))
def test_any_sequence_gives_clips_within_their_windows_in_time_order(ops, before_ms, after_ms, max_frames) -> None:
    buf = ClipBuffer(before_ms / 1000, after_ms / 1000, max_frames=max_frames, jpeg_quality=50)
    before, after = timedelta(milliseconds=before_ms), timedelta(milliseconds=after_ms)
    now, clips_seen = T0, []
    for op, ms in ops:
        if op == "add":
            now_frame = now + timedelta(milliseconds=ms)
            got = buf.add(now_frame, IMAGE)
            now = max(now, now_frame)
            assert all(now_frame >= c.at + after for c in got)
            clips_seen += got
        else:
            buf.request(op, now + timedelta(milliseconds=ms))
        assert len(buf) <= max_frames
    clips_seen += buf.flush()
    for clip in clips_seen:
        times = [t for t, _ in clip.frames]
        assert times == sorted(times)
        assert all(clip.at - before <= t <= clip.at + after for t in times)
        assert len(times) <= max_frames


def make_clip(frames_ms: list[int], image: np.ndarray) -> Clip:
    jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    return Clip("k", at(frames_ms[0]), [(at(ms), jpeg) for ms in frames_ms])


def decode(data: bytes) -> list[tuple[float, np.ndarray]]:
    with av.open(io.BytesIO(data)) as container:
        return [(f.time, f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]


@pytest.mark.parametrize("encoder", [clips.MP4_ENCODER, "mpeg4"])
@pytest.mark.parametrize(("size", "expected"), [((48, 64), (48, 64)), ((49, 65), (48, 64))])
def test_the_mp4_plays_back_every_frame_at_its_capture_time(monkeypatch, encoder: str, size: tuple[int, int],
                                                            expected: tuple[int, int]) -> None:
    monkeypatch.setattr(clips, "MP4_ENCODER", encoder)
    image = gradient(*size)
    frames_ms = [0, 130, 400, 650, 1000, 1333]
    decoded = decode(encode_mp4(make_clip(frames_ms, image)))
    assert len(decoded) == len(frames_ms)
    assert all(img.shape == (*expected, 3) for _, img in decoded)
    assert all(abs(t * 1000 - ms) <= 1 for (t, _), ms in zip(decoded, frames_ms, strict=True))
    first = decoded[0][1].astype(int)
    assert np.abs(first - image[:expected[0], :expected[1]].astype(int)).mean() < 8


def test_the_encoder_is_h264_when_ffmpeg_has_it() -> None:
    assert clips.MP4_ENCODER in {"libx264", "h264", "mpeg4"}
    if "libx264" in av.codecs_available:
        assert clips.MP4_ENCODER == "libx264"


def test_times_within_one_ms_are_nudged_apart_and_a_resized_stream_still_encodes() -> None:
    small = cv2.imencode(".jpg", gradient(24, 32))[1].tobytes()
    clip = make_clip([0, 0, 200], gradient())
    clip.frames.append((at(400), small))
    decoded = decode(encode_mp4(clip))
    assert [round(t * 1000) for t, _ in decoded] == [0, 1, 200, 400]
    assert {img.shape for _, img in decoded} == {(48, 64, 3)}


@pytest.mark.parametrize(("clip", "message"), [
    (Clip("k", T0, []), "no frames"),
    (Clip("k", T0, [(T0, b"not a jpeg")]), "not a decodable JPEG"),
    (Clip("k", T0, [(T0, cv2.imencode(".jpg", np.zeros((1, 1, 3), np.uint8))[1].tobytes())]), "too small"),
])
def test_a_clip_that_cannot_be_encoded_raises_value_error(clip: Clip, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_mp4(clip)
