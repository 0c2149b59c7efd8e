"""streamlit 1.67.0: the multipage mode is st.navigation's from the first run.

Upstream bug: Streamlit takes a folder named `pages/` for its older multipage mode (each script
a page of its own, run without app.py) until some run of the process has called st.navigation; a
page link clicked during the first, slow run of a fresh process kept that tab in the old mode
(no sidebar, no page-leave cleanup). Set before the server starts, no session sees that mode.
"""

from __future__ import annotations

from typing import Final

from lib.patches.patch import Patch

DISTRIBUTION: Final = "streamlit"
CHECKED: Final = "1.67.0"


def navigation_from_the_start() -> None:
    """Read against PagesManager.uses_pages_directory."""
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


PATCHES: Final = (
    Patch("st.navigation from the first run", DISTRIBUTION, CHECKED, navigation_from_the_start),
)
