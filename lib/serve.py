"""`python -m lib serve [streamlit run options]`: the dashboard, as `make run` starts it.

app.py navigates with `st.navigation` over the scripts in `pages/`. Streamlit takes a folder of
that name for its older multipage mode (each script a page of its own, run without app.py)
until some run of the process has called `st.navigation`; a page link clicked during the first,
slow run of a fresh process kept that tab in the old mode (no sidebar, no page-leave cleanup).
The flag is set here, before the server starts, so no session ever sees that mode.
Checked against the pinned streamlit==1.67.0 (`PagesManager.uses_pages_directory`).
"""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def main(argv: list[str]) -> int:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False
    cli.main(args=["run", str(APP), *argv], prog_name="streamlit")
    return 0
