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
