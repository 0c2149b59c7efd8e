"""Conversation scripts: both formats load; every malformed one says where and what to fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lib.runtime.script import DEMO_SCRIPT, ScriptError, load_script, read_turn_audio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "speech"


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_toml_script_with_text_and_wav_turns(tmp_path):
    shutil.copy(FIXTURES / "piper_hours.wav", tmp_path / "hours.wav")
    script = load_script(
        write(
            tmp_path,
            "s.toml",
            'persona = "lookup"\n[[turn]]\ntext = "Where is my order 4572?"\n'
            '[[turn]]\nwav = "hours.wav"\npause_s = 0.5\n',
        )
    )
    assert script.persona == "lookup" and script.has_audio
    assert script.turns[0].text == "Where is my order 4572?"
    assert script.turns[1].wav == (tmp_path / "hours.wav").resolve()
    assert script.turns[1].pause_s == 0.5
    pcm = read_turn_audio(script.turns[1].wav)
    assert 1.5 < len(pcm) / 24_000 < 4  # 24 kHz mono, the clip's length


def test_text_script_one_turn_per_line(tmp_path):
    shutil.copy(FIXTURES / "piper_hours.wav", tmp_path / "q.wav")
    script = load_script(
        write(tmp_path, "s.txt", "# demo\nHello there\n\nwav: q.wav  # spoken\nBye\n")
    )
    assert [t.label for t in script.turns] == ["Hello there", "[q.wav]", "Bye"]
    assert script.persona == DEMO_SCRIPT.persona


@pytest.mark.parametrize(
    ("name", "body", "says"),
    [
        ("a.toml", "persona = \n", "not valid TOML"),
        ("b.toml", 'persona = "pirate"\n[[turn]]\ntext = "hi"\n', "unknown persona 'pirate'"),
        ("c.toml", 'persona = "echo"\n', "no turns"),
        ("d.toml", '[[turn]]\ntext = "hi"\nwav = "x.wav"\n', "turn 1: give exactly one"),
        ("e.toml", '[[turn]]\ntext = "ok"\n[[turn]]\ntext = "   "\n', "turn 2: the text is empty"),
        ("f.toml", '[[turn]]\nwav = "missing.wav"\n', "turn 1: no WAV file"),
        ("g.toml", '[[turn]]\ntext = "hi"\nvolume = 3\n', "unknown fields ['volume']"),
        ("h.toml", '[[turn]]\ntext = "hi"\npause_s = -1\n', "pause_s"),
        ("i.txt", "# only a comment\n", "no turns"),
        ("j.txt", "hello\nwav: nope.wav\n", "line 2: no WAV file"),
        ("k.toml", "[[turn]]\ntext = 42\n", "must be a string"),
    ],
)
def test_malformed_scripts_say_what_to_fix(tmp_path, name, body, says):
    with pytest.raises(ScriptError, match=None) as info:
        load_script(write(tmp_path, name, body))
    assert says in str(info.value)
    assert name in str(info.value)


def test_not_a_wav_and_not_utf8(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000nope")
    with pytest.raises(ScriptError, match="not a readable WAV"):
        load_script(write(tmp_path, "s.txt", "wav: bad.wav\n"))
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ScriptError, match="not UTF-8"):
        load_script(tmp_path / "latin.txt")
    with pytest.raises(ScriptError, match="no script file"):
        load_script(tmp_path / "absent.toml")


def test_control_characters_are_removed_and_long_text_refused(tmp_path):
    script = load_script(write(tmp_path, "s.txt", "Hel\x07lo\x1b there\n"))
    assert script.turns[0].text == "Hello there"
    with pytest.raises(ScriptError, match="keep it ≤ 2000"):
        load_script(write(tmp_path, "l.txt", "word " * 500 + "\n"))


def wav(path: Path, rate: int = 24_000, channels: int = 1, seconds: float = 0.5, width: int = 2):
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\0" * int(rate * seconds) * channels * width)
    return path


def refusal(script: Path) -> str:
    with pytest.raises(ScriptError) as info:
        load_script(script)
    return str(info.value)


def test_wav_paths_must_stay_inside_the_scripts_folder(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    secret = wav(tmp_path / "secret.wav")  # a real WAV, next to (not inside) the folder
    (folder / "link.wav").symlink_to(secret)
    (folder / "sub").symlink_to(tmp_path)
    tried = {
        "absolute": str(secret),
        "parent": "../secret.wav",
        "deeper": "x/../../secret.wav",
        "symlink": "link.wav",
        "through a linked folder": "sub/secret.wav",
    }
    for how, written in tried.items():
        said = refusal(write(folder, "s.txt", f"wav: {written}\n"))
        assert "outside the script's folder" in said and repr(written) in said, how
        assert str(tmp_path) not in said.replace(repr(written), ""), how
    # The same words whether or not the outside file exists.
    there = refusal(write(folder, "s.txt", "wav: ../secret.wav\n"))
    absent = refusal(write(folder, "s.txt", "wav: ../absent.wav\n"))
    assert there.replace("secret", "absent") == absent
    # Inside the folder (a subfolder, or a symlink staying inside) is fine.
    (folder / "clips").mkdir()
    wav(folder / "clips" / "q.wav")
    (folder / "alias.wav").symlink_to(folder / "clips" / "q.wav")
    script = load_script(write(folder, "s.txt", "wav: clips/q.wav\nwav: alias.wav\n"))
    assert [t.label for t in script.turns] == ["[q.wav]", "[q.wav]"]
    assert script.folder == folder.resolve()


def test_a_missing_wav_is_named_as_written_never_by_absolute_path(tmp_path):
    said = refusal(write(tmp_path, "s.toml", '[[turn]]\nwav = "clips/none.wav"\n'))
    assert "no WAV file 'clips/none.wav'" in said and str(tmp_path) not in said
    assert str(tmp_path) not in refusal(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("fmt", "says"),
    [
        ({"rate": 1}, "sampled at 1 Hz; use 8000 to 48000 Hz"),
        ({"rate": 96_000}, "sampled at 96000 Hz"),
        ({"channels": 6}, "has 6 channels"),
        ({"seconds": 31}, "lasts 31 s; keep a turn to 30 s"),
        ({"width": 1}, "must be 16-bit PCM"),
    ],
)
def test_wavs_outside_the_bounds_are_refused(tmp_path, fmt, says):
    wav(tmp_path / "x.wav", **fmt)
    said = refusal(write(tmp_path, "s.txt", "wav: x.wav\n"))
    assert says in said and "s.txt, line 1: x.wav" in said


def test_bounds_hold_at_their_edges_and_when_the_turn_is_played(tmp_path):
    wav(tmp_path / "lo.wav", rate=8_000, seconds=30)
    wav(tmp_path / "hi.wav", rate=48_000, channels=2, seconds=1)
    script = load_script(write(tmp_path, "s.txt", "wav: lo.wav\nwav: hi.wav\n"))
    assert len(read_turn_audio(script.turns[0].wav)) == 30 * 24_000
    # Swapped for an out-of-bounds file after loading: refused when read.
    wav(tmp_path / "hi.wav", rate=2, seconds=1000)
    with pytest.raises(ScriptError, match="sampled at 2 Hz"):
        read_turn_audio(script.turns[1].wav)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    from lib.runtime.script import MAX_SCRIPT_BYTES, MAX_WAV_BYTES

    wav(tmp_path / "big.wav")
    with (tmp_path / "big.wav").open("ab") as f:
        f.truncate(MAX_WAV_BYTES + 1)
    assert "big.wav is over 5.8 MB" in refusal(write(tmp_path, "s.txt", "wav: big.wav\n"))
    write(tmp_path, "huge.txt", "hello\n" * (MAX_SCRIPT_BYTES // 6 + 1))
    assert "huge.txt: over" in refusal(tmp_path / "huge.txt")
