import fractions
import itertools

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from lib.media.tracks import (
    AUDIO_MAX_MS,
    AUDIO_RATE,
    AUDIO_TARGET_MS,
    AudioJitterBuffer,
    AvatarMedia,
)
from lib.wire.picture import I420

TB = fractions.Fraction(1, 90000)


def test_jitter_buffer_keeps_order_and_pads_underruns():
    buf = AudioJitterBuffer()
    buf.push(np.arange(1, 601, dtype=np.int16))
    out = buf.pull(960)
    assert list(out[:600]) == list(range(1, 601)) and not out[600:].any()
    assert buf.underruns == 1 and buf.buffered_ms == 0


def test_jitter_buffer_trims_when_behind():
    buf = AudioJitterBuffer()
    for _ in range(40):  # 800 ms pushed with nobody pulling
        buf.push(np.ones(960, dtype=np.int16))
    assert AUDIO_TARGET_MS <= buf.buffered_ms <= AUDIO_MAX_MS
    assert buf.dropped_samples > 0


def test_audio_is_resampled_to_48k():
    media = AvatarMedia()
    media.on_audio(np.ones(480, dtype=np.int16), 24000)
    assert media.audio.buffered_ms == 20.0
    frame = media.audio_frame(0, fractions.Fraction(1, AUDIO_RATE))
    assert frame.sample_rate == AUDIO_RATE and frame.samples == 960


def test_video_shows_placeholder_until_frames_arrive_then_the_newest():
    media = AvatarMedia()
    first = media.video_frame(0, TB).to_ndarray(format="rgb24")
    assert first.shape == (480, 854, 3) and media.first_frame_out_at is None
    rgb = np.full((360, 640, 3), 200, dtype=np.uint8)
    media.on_video(rgb)
    out = media.video_frame(3000, TB).to_ndarray(format="rgb24")
    assert out.shape == (360, 640, 3) and int(out.mean()) == 200
    assert media.first_frame_out_at is not None
    media.reset("Session ended")
    assert media.video_frame(6000, TB).to_ndarray(format="rgb24").shape == (480, 854, 3)


def test_video_track_sends_each_new_frame_as_it_arrives():
    import asyncio
    import threading
    import time

    from lib.media.tracks import IDLE_REPEAT_S, AvatarVideoTrack

    media = AvatarMedia()
    track = AvatarVideoTrack(media)

    async def go():
        first = await track.recv()  # placeholder, at once
        t0 = time.monotonic()
        idle = await track.recv()  # nothing new: repeated after the idle interval
        waited = time.monotonic() - t0
        rgb = np.full((360, 640, 3), 90, dtype=np.uint8)
        threading.Timer(0.03, media.on_video, args=(rgb,)).start()  # another thread, like a room
        t1 = time.monotonic()
        new = await track.recv()
        woke = time.monotonic() - t1
        return first, idle, waited, new, woke

    first, idle, waited, new, woke = asyncio.run(go())
    assert first.width == 854 and idle.width == 854
    assert waited >= IDLE_REPEAT_S * 0.9
    assert new.width == 640 and woke < IDLE_REPEAT_S  # woken by the frame, not the timeout
    assert new.pts > idle.pts > first.pts - 1


def test_frames_arriving_together_all_go_out_in_order_stamped_when_they_arrived():
    """The room's reader can hand over two frames before the media loop takes one (they share
    the GIL): both go out, oldest first, each stamped with its own arrival (a 4-stream soak
    lost 7 of 24 frames a second to this). Beyond VIDEO_BACKLOG the oldest are skipped."""
    import asyncio
    import time

    from lib.media.tracks import VIDEO_BACKLOG, AvatarVideoTrack

    media = AvatarMedia()
    track = AvatarVideoTrack(media)

    def shade(frame) -> int:
        return int(frame.to_ndarray(format="rgb24").mean())

    async def go():
        await track.recv()  # placeholder: the track's clock starts
        for level in (10, 20):
            media.on_video(np.full((64, 64, 3), level, dtype=np.uint8))
            time.sleep(0.04)
        pair = [await track.recv(), await track.recv()]
        for level in range(30, 30 + 10 * (VIDEO_BACKLOG + 2), 10):
            media.on_video(np.full((64, 64, 3), level, dtype=np.uint8))
        burst = [await track.recv() for _ in range(VIDEO_BACKLOG)]
        return pair, burst

    pair, burst = asyncio.run(go())
    assert [shade(f) for f in pair] == [10, 20]
    assert 0.03 < (pair[1].pts - pair[0].pts) / 90000 < 0.06  # 40 ms apart, as they came
    expected = list(range(30, 30 + 10 * (VIDEO_BACKLOG + 2), 10))[-VIDEO_BACKLOG:]
    assert [shade(f) for f in burst] == expected  # the newest VIDEO_BACKLOG, in order
    stamps = [f.pts for f in pair + burst]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


@pytest.mark.parametrize("as_i420", [False, True], ids=["rgb", "i420"])
def test_thinking_badge_is_drawn_over_the_avatar_only_while_set(as_i420):
    media = AvatarMedia()
    rgb = np.full((480, 854, 3), 200, np.uint8)
    media.on_video(I420.from_rgb(rgb) if as_i420 else rgb)
    tb = fractions.Fraction(1, 90000)
    plain = media.video_frame(0, tb).to_ndarray(format="rgb24")
    media.set_badge("Looking that up…")
    badged = media.video_frame(0, tb).to_ndarray(format="rgb24")
    corner = (slice(0, 60), slice(0, 300))
    assert np.abs(badged[corner].astype(int) - plain[corner]).mean() > 20
    # The rest of the picture, and the transport's own frame, are untouched.
    assert np.abs(badged[300:, 400:].astype(int) - plain[300:, 400:]).mean() < 2
    assert (rgb == 200).all()
    if as_i420:  # the I420 path hands the encoder yuv420p, no conversion on the media loop
        assert media.video_frame(0, tb).format.name == "yuv420p"
    media.set_badge(None)
    cleared = media.video_frame(0, tb).to_ndarray(format="rgb24")
    assert np.abs(cleared[corner].astype(int) - plain[corner]).mean() < 2


def test_audio_track_sends_each_avatar_chunk_as_it_arrives():
    """While the avatar streams, its chunks pace the track: each goes out on arrival, in order,
    with nothing held back in between."""
    import asyncio
    import threading
    import time

    from lib.media.tracks import AvatarAudioTrack

    media = AvatarMedia()
    track = AvatarAudioTrack(media)
    chunks = [np.full(960, i + 1, dtype=np.int16) for i in range(8)]
    arrived: list[float] = []

    def room() -> None:  # another thread, 20 ms apart, like the local room
        for chunk in chunks:
            time.sleep(0.02)
            arrived.append(time.monotonic())
            media.on_audio(chunk, AUDIO_RATE)

    async def go():
        await track.recv()  # the first slot goes out at once (silence: nothing yet)
        threading.Thread(target=room).start()
        out = []
        while len(out) < len(chunks):
            frame = await track.recv()
            value = int(frame.to_ndarray()[0, 0])
            if value:
                out.append((value, time.monotonic(), frame.pts))
        return out

    out = asyncio.run(go())
    assert [v for v, _, _ in out] == list(range(1, 9))
    assert all(b[2] - a[2] >= 960 for a, b in itertools.pairwise(out))
    held = [sent - arrived[v - 1] for v, sent, _ in out]
    assert max(held) < 0.015, held  # a wake-up, not a 20 ms slot or a buffer


def test_audio_track_keeps_its_own_clock_without_avatar_audio():
    """Before a session (or in the voice-only fallback) the track still sends 20 ms slots, at
    20 ms apart on average, with the fallback voice in them."""
    import asyncio
    import time

    from lib.media.tracks import AvatarAudioTrack

    media = AvatarMedia()
    media.play_voice(np.full(960 * 5, 7, dtype=np.int16), AUDIO_RATE)
    track = AvatarAudioTrack(media)

    async def go():
        t0 = time.monotonic()
        frames = [await track.recv() for _ in range(15)]
        return frames, time.monotonic() - t0

    frames, took = asyncio.run(go())
    assert [int(f.to_ndarray()[0, 0]) for f in frames[:6]] == [7] * 5 + [0]
    assert 14 * 0.02 * 0.8 <= took <= 14 * 0.02 * 2.5  # paced, not free-running


def test_tracks_outlive_a_webrtc_session_and_end_with_their_media():
    """streamlit-webrtc relays source tracks through aiortc's MediaRelay, which reads a source
    until it raises. A track must survive the end of one WebRTC session (the library makes the
    next worker in the same run, with the tracks already passed in), and must end when its
    media is closed, so the relay's reader stops and nothing pumps it after the tab is gone."""
    import asyncio

    from aiortc.contrib.media import MediaRelay

    from lib.media.tracks import cached_audio_track, cached_video_track

    state: dict[str, object] = {}
    media = AvatarMedia()
    video = cached_video_track(state, "v", media)
    audio = cached_audio_track(state, "a", media)

    async def sessions() -> int:
        relay = MediaRelay()
        first = relay.subscribe(video)
        await first.recv()  # the relay now reads the source on its own task
        first.stop()  # the first WebRTC session ends (what its worker does)...
        second = relay.subscribe(video)  # ...and the next one relays the same track
        await asyncio.wait_for(second.recv(), 1.0)
        readers = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        assert readers, "the relay reads the source on a task"
        media.close()  # the runner shut down
        _, pending = await asyncio.wait(readers, timeout=1.0)
        return len(pending)

    assert asyncio.run(sessions()) == 0  # the relay's reader ended
    assert video.readyState == "ended"
    assert cached_video_track(state, "v", media) is not video  # a new one if asked again

    async def audio_ends() -> None:
        with pytest.raises(MediaStreamError):
            await audio.recv()

    asyncio.run(audio_ends())


def test_a_track_whose_media_is_replaced_is_stopped():
    from lib.media.tracks import cached_video_track

    state: dict[str, object] = {}
    old = cached_video_track(state, "v", AvatarMedia())
    new = cached_video_track(state, "v", AvatarMedia())
    assert new is not old
    assert old.readyState == "ended" and new.readyState == "live"
