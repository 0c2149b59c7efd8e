from lib.bridge.timeline import Chunk, Turn
from lib.ui.transcript import transcript_html


def _turn(seq: int, **kw: object) -> Turn:
    return Turn(id=f"t{seq}", seq=seq, source="voice", **kw)  # type: ignore[arg-type]


def test_turns_show_in_order_with_who_said_what():
    html = transcript_html(
        [
            _turn(
                1,
                user_text="Where can I park?",
                assistant_text="Level two.",
                agent="concierge",
                status="done",
            ),
            _turn(2, user_text="And the price?", status="open"),
        ]
    )
    assert html.index("Where can I park?") < html.index("Level two.") < html.index("And the price?")
    assert html.count('class="turn-user"') == 2 and html.count('class="turn-assistant"') == 1
    assert "concierge" in html


def test_an_interrupted_answer_is_marked_and_its_pieces_listed():
    chunks = [
        Chunk(id="c1", seq=1, kind="text", ready_at=0.0, text="Hi.", status="done"),
        Chunk(
            id="c2",
            seq=2,
            kind="text",
            ready_at=0.0,
            text="More",
            status="interrupted",
            emotion="friendly",
        ),
    ]
    html = transcript_html(
        [
            _turn(
                1,
                assistant_text="Hi. More",
                chunks=chunks,
                status="interrupted",
                error="the avatar went away",
            )
        ]
    )
    assert "(interrupted)" in html and 'data-status="interrupted"' in html
    assert "#1 done" in html and "#2 interrupted · friendly" in html
    assert "the avatar went away" in html


def test_text_from_users_and_models_is_escaped():
    html = transcript_html(
        [
            _turn(
                1,
                user_text="<img src=x onerror=alert(1)>",
                assistant_text="<script>x</script>",
                agent="<b>",
                status="done",
            )
        ]
    )
    assert "<img" not in html and "<script>" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_turn_with_nothing_answered_yet_shows_only_the_question():
    html = transcript_html([_turn(1, user_text="Hello?", status="open")])
    assert "turn-assistant" not in html and "Hello?" in html
