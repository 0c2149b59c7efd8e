import time

import pytest

from lib.core.loop_thread import LoopThread
from lib.runtime.watchdog import PageWatch
from lib.ui.page_leave import enter_page, on_leave, page_key


def test_leaving_a_page_runs_its_cleanups_once():
    state: dict = {}
    calls: list[str] = []
    enter_page(state, "studio")
    on_leave(state, "studio", "runner", lambda: calls.append("stop"))
    assert enter_page(state, "studio") == [] and calls == []  # a rerun of the same page
    assert enter_page(state, "settings") == ["studio:runner"]
    deadline = time.monotonic() + 5
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == ["stop"]
    assert enter_page(state, "latency") == [] and calls == ["stop"]


def test_a_page_files_its_cleanups_under_its_own_script_not_the_session_s_last_page():
    # The soak's first tab filed the conversation's stop under "" (the default page's url
    # path), and the conversation's next rerun stopped it 7 s after Start.
    state: dict = {}
    calls: list[str] = []
    enter_page(state, page_key("pages/studio.py"))
    on_leave(state, page_key("pages/conversation.py"), "conv", lambda: calls.append("stop"))
    assert enter_page(state, page_key("pages/conversation.py")) == []
    assert enter_page(state, page_key("pages/conversation.py")) == [] and calls == []
    assert enter_page(state, page_key("pages/studio.py")) == ["conversation:conv"]


def test_loop_thread_runs_and_refuses_work_after_close():
    loop = LoopThread("t")

    async def answer() -> int:
        return 42

    assert loop.run(answer()) == 42
    loop.close()
    assert not loop.alive
    with pytest.raises(RuntimeError, match="stopped"):
        loop.run(answer(), timeout=1)


def test_a_page_is_gone_only_when_its_heartbeat_is_late_and_its_tab_disconnected():
    late = time.monotonic() - 10
    assert not PageWatch(5.0).gone()  # fresh heartbeat
    assert PageWatch(5.0, last=late).gone()  # late, nothing to ask: gone
    assert not PageWatch(5.0, lambda: True, last=late).gone()  # late, but the tab is connected
    assert PageWatch(5.0, lambda: False, last=late).gone()  # late and disconnected
    assert not PageWatch(None, lambda: False, last=late).gone()  # no page watches
    watch = PageWatch(5.0, lambda: False, last=late)
    watch.beat()
    assert not watch.gone()  # a heartbeat: the page is back
