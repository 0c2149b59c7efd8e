"""`python -m lib serve [streamlit run options]`: the dashboard, as `make run` starts it.

The library patches are applied here, before the server starts (the Streamlit one must be).
"""

from __future__ import annotations

from pathlib import Path

from lib import patches
from lib.core.logs import log_to_stderr

APP = Path(__file__).resolve().parents[2] / "app.py"


def main(argv: list[str]) -> int:
    from streamlit.web import cli

    log_to_stderr()
    patches.apply_all()
    cli.main(args=["run", str(APP), *argv], prog_name="streamlit")
    return 0
