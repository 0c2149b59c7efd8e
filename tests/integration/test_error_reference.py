"""Issue 24, finding 7 (tracebacks reached the browser): a page that fails shows a short message
with a reference, and the app log has the traceback under that reference; Streamlit's own
control flow (st.stop, st.rerun, st.switch_page) passes through untouched."""

from __future__ import annotations

import logging
import re
import tomllib
from unittest import mock

import pytest
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException
from streamlit.testing.v1 import AppTest

from lib.bench.harness import ROOT
from lib.ui.error_guard import run_guarded
from tests.integration.test_pages import shutdown

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("webrtc_under_apptest")]
SECRET = "/home/alice/.config/token-5e1f"


def app(monkeypatch, base_url: str) -> AppTest:
    """The app's first run: app.py and its default page (the Studio), run through the guard.
    (AppTest runs a page switched to without app.py, so the Studio is the page to break.)"""
    monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", base_url)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def test_a_failing_page_shows_a_reference_and_logs_the_traceback(
    monkeypatch, tmp_db, local_heygen, caplog
):
    at = app(monkeypatch, local_heygen.base_url)
    broken = mock.patch(
        "lib.ui.studio_panel.session_form", side_effect=RuntimeError(f"cannot {SECRET}")
    )
    with broken, caplog.at_level(logging.ERROR, logger="lib.ui.error_guard"):
        at.run()
    shutdown(at)
    assert not at.exception  # nothing of the traceback reaches the browser
    (shown,) = [str(e.value) for e in at.error]
    m = re.fullmatch(r"Something went wrong \(reference ([0-9a-f]{6})\); the app log .*", shown)
    assert m, shown
    assert SECRET not in str(at._tree)
    record = next(r for r in caplog.records if m[1] in r.getMessage())
    assert record.exc_info and SECRET in str(record.exc_info[1])
    assert "Avatar Studio" in record.getMessage()
    # Unbroken, the same page works.
    at = app(monkeypatch, local_heygen.base_url)
    at.run()
    shutdown(at)
    assert not at.exception and not at.error and at.selectbox


def test_streamlits_control_flow_passes_through_the_guard(monkeypatch, tmp_db, local_heygen):
    for control in (StopException(), RerunException(None)):
        with pytest.raises(type(control)):
            run_guarded(lambda c=control: (_ for _ in ()).throw(c), "test")
    # In the app: a page that reruns (st.rerun), then stops early (st.stop).
    calls = []

    def rerun_then_stop(*args):
        import streamlit as st

        calls.append(args)
        if len(calls) == 1:
            st.rerun()
        st.info("stopped after a rerun")
        st.stop()

    at = app(monkeypatch, local_heygen.base_url)
    with mock.patch("lib.ui.studio_panel.session_form", side_effect=rerun_then_stop):
        at.run()
    shutdown(at)
    assert len(calls) == 2 and not at.error and not at.exception
    assert [str(i.value) for i in at.info] == ["stopped after a rerun"]


def test_the_browser_is_given_no_error_details():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] in ("none", "type")
