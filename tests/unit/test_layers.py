"""The layers hold: `lint-imports` (run by `make lint`) passes on the tree, and fails on a copy
of it given one import against the flow of each kind the contracts forbid."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
LAYERS = "The app's layers import only downward"
APART = "The local servers import nothing of the app but the wire format"
LAUNCHER = "The app reaches the local servers only through their launcher"
CYCLES = "No two modules or packages import each other"


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
    )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("house")
    shutil.copytree(ROOT / "lib", tree / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_tree_keeps_every_contract(scratch):
    result = lint(scratch)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # a lower layer reaching up: the store asks the runtime
        ("lib/store/database.py", "import lib.runtime.conversation", LAYERS),
        # two clients that must not know each other
        ("lib/avatar/base.py", "import lib.brain.events", LAYERS),
        # the local servers importing the app
        ("lib/emulators/faults.py", "import lib.core.config", APART),
        # the app importing a local server's insides instead of going through its launcher
        ("lib/bridge/tools.py", "import lib.emulators.engines.personas", LAUNCHER),
        # two modules of one package importing each other
        ("lib/media/mic.py", "import lib.media.pcm", None),
    ],
)
def test_an_import_against_the_flow_breaks_the_lint(scratch, tmp_path, module, line, broken):
    tree = tmp_path / "tree"
    shutil.copytree(scratch, tree)
    target = tree / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    if broken is None:  # a cycle needs both directions: pcm imports mic as well
        pcm = tree / "lib/media/pcm.py"
        pcm.write_text(pcm.read_text() + "\nimport lib.media.mic  # noqa\n")
        broken = CYCLES
    result = lint(tree)
    assert result.returncode != 0, result.stdout
    assert f"{broken} BROKEN" in result.stdout, result.stdout
