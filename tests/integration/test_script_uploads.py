"""Issue 24, findings 3 and 4, through the Experiments page (AppTest): an uploaded script cannot
read WAVs outside its upload nor learn which paths exist, out-of-bounds WAVs are refused, and
uploads are written once, removed when cleared and capped — while a real script still loads."""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.bench.harness import ROOT
from tests.integration.test_pages import shutdown

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("webrtc_under_apptest")]
CLIP = (ROOT / "tests" / "fixtures" / "speech" / "piper_hours.wav").read_bytes()


@pytest.fixture
def page(tmp_path, monkeypatch, local_heygen) -> AppTest:
    monkeypatch.setenv("AVATARLAB_DB", str(tmp_path / "lab" / "avatarlab.db"))
    monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", local_heygen.base_url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    shutdown(at)
    at.switch_page("pages/experiments.py").run()
    next(r for r in at.radio if r.label == "Script").set_value("Upload").run()
    return at


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    mime = {"wav": "audio/wav", "txt": "text/plain", "toml": "application/toml"}
    at.file_uploader[0].set_value([(n, b, mime[n.rsplit(".", 1)[-1]]) for n, b in files]).run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    """The page's errors as the browser shows them (Markdown escapes removed)."""
    return [re.sub(r"\\(.)", r"\1", str(e.value)) for e in at.error]


def captions(at: AppTest) -> list[str]:
    return [str(c.value) for c in at.caption]


def clip(rate: int = 24_000, seconds: float = 1.0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(rate * seconds))
    return buf.getvalue()


def folders(tmp_path: Path) -> list[Path]:
    root = tmp_path / "lab" / "scripts"
    return sorted(root.iterdir()) if root.is_dir() else []


def test_wav_paths_outside_the_upload_are_refused_alike_and_never_shown(page, tmp_path):
    outside = tmp_path / "private.wav"
    outside.write_bytes(CLIP)  # a real WAV elsewhere on the machine
    said = {}
    for written in (str(outside), "../../private.wav", "../../absent.wav", "/etc/hostname"):
        upload(page, ("s.txt", f"Hello\nwav: {written}\n".encode()))
        (error,) = errors(page)
        said[written] = error
        assert "Script not usable" in error and "outside the script's folder" in error
        assert str(tmp_path) not in error.replace(written, "")
    # Existing or not, a WAV or not: the same words, but for the name as written.
    assert len({s.replace(w, "…") for w, s in said.items()}) == 1
    assert not any("turns, persona" in c for c in captions(page))
    # The legitimate path: the script and the WAV it names, uploaded together.
    upload(page, ("s.txt", b"Hello\nwav: hours.wav\n"), ("hours.wav", CLIP))
    assert not page.error and "2 turns, persona concierge" in captions(page)


@pytest.mark.parametrize(
    ("wav_bytes", "says"),
    [
        (clip(rate=1, seconds=2000), "sampled at 1 Hz; use 8000 to 48000 Hz"),
        (clip(seconds=31), "lasts 31 s; keep a turn to 30 s"),
    ],
)
def test_out_of_bounds_wavs_are_refused(page, wav_bytes, says):
    upload(page, ("s.txt", b"wav: x.wav\n"), ("x.wav", wav_bytes))
    (error,) = errors(page)
    assert says in error and "s.txt, line 1: x.wav" in error


def test_an_upload_is_written_once_reused_and_removed_when_cleared(page, tmp_path):
    upload(page, ("s.toml", b'[[turn]]\nwav = "hours.wav"\n'), ("hours.wav", CLIP))
    assert "1 turns, persona concierge" in captions(page)
    (folder,) = folders(tmp_path)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    for _ in range(3):  # every click reruns the page with the upload attached
        page.run()
    assert folders(tmp_path) == [folder]
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    # Another upload replaces it; clearing removes the folder.
    upload(page, ("s.txt", b"Hello\n"))
    (other,) = folders(tmp_path)
    assert other != folder
    page.file_uploader[0].clear().run()
    assert folders(tmp_path) == []


def test_more_files_or_bytes_than_a_script_needs_are_refused(page, tmp_path):
    wavs = [(f"{i}.wav", clip(seconds=0.1)) for i in range(41)]
    upload(page, ("s.txt", b"wav: 0.wav\n"), *wavs)
    assert any("41 WAV files; a script can use up to 40" in e for e in errors(page))
    upload(page, ("s.txt", b"wav: big.wav\n"), ("big.wav", b"\0" * (7 * 1024 * 1024)))
    assert any("big.wav is over 6 MB" in e for e in errors(page))
    assert folders(tmp_path) == []  # nothing written
