"""Scripted personas of the local Realtime server: behaviour a demo relies on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lib.emulators.engines.personas import FuzzyIndex, spoken_number
from lib.emulators.engines.responder import (
    LOOKUP_TOOLS,
    RESPONDERS,
    Concierge,
    Reply,
    ToolCall,
    make_responder,
)


def _converse(persona: str, user_turns: list[str], **options: Any) -> list[Reply]:
    """Play user turns against a persona, keeping the history the server would keep."""
    responder = make_responder(persona, **options)
    history: list[tuple[str, str]] = []
    replies: list[Reply] = []
    for text in user_turns:
        reply = responder.reply(text, history)
        replies.append(reply)
        history += [("user", text), ("assistant", reply.text)]
    return replies


def test_registry_and_unknown_persona():
    assert set(RESPONDERS) >= {
        "interviewer",
        "concierge",
        "echo",
        "lookup",
        "greeter",
        "specialist",
    }
    for name in RESPONDERS:
        assert make_responder(name).name == name
    with pytest.raises(ValueError, match=r"concierge.*echo"):
        make_responder("pirate")


def test_echo():
    assert make_responder("echo").reply(" Hello there ", []) == Reply("You said: Hello there")
    assert make_responder("echo").reply("", []).text == "I didn't hear anything."


# ---- interviewer ------------------------------------------------------------------------


def test_interviewer_asks_in_order_acknowledges_and_closes():
    questions = ["What is your name?", "Where do you live?", "What do you do?"]
    replies = _converse(
        "interviewer",
        ["hello", "My name is Priya", "I live in Lisbon", "I teach mathematics", "anything else?"],
        questions=questions,
    )
    texts = [r.text for r in replies]
    assert texts[0].endswith(questions[0])
    keys = ["priya", "lisbon", "mathematics"]
    assert texts[1].endswith(questions[1]) and "priya" in texts[1].lower()
    assert texts[2].endswith(questions[2]) and "lisbon" in texts[2].lower()
    assert "mathematics" in texts[3].lower() and "last question" in texts[3]
    assert "thank" in texts[3].lower()
    assert "complete" in texts[4]
    # varied wording: with the keyword removed, the three acknowledgements still differ
    templates = {
        t.lower().split(".")[0].replace(w, "") for t, w in zip(texts[1:4], keys, strict=True)
    }
    assert len(templates) == 3


def test_interviewer_is_deterministic_and_stateless():
    turns = ["hi", "I build robots for warehouses"]
    assert _converse("interviewer", turns) == _converse("interviewer", turns)
    # the same instance serves a fresh session: history decides, not hidden state
    responder = make_responder("interviewer")
    responder.reply("hi", [])
    assert responder.reply("hi", []).text.startswith("Hi, thanks for joining")


def test_interviewer_tolerates_the_current_turn_in_history_and_skips():
    responder = make_responder("interviewer", questions=["Q1?", "Q2?"])
    history = [("user", "hi"), ("assistant", "Hi. Q1?"), ("user", "skip")]
    assert responder.reply("skip", history).text == "No problem, let's move on. Q2?"


def test_interviewer_needs_questions():
    with pytest.raises(ValueError):
        make_responder("interviewer", questions=["  "])


# ---- concierge --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("What are your opening hours on Saturday?", "opening hours"),
        ("what are your opening ours", "opening hours"),  # transcription slips
        ("when do you close today", "opening hours"),
        ("How much does the premium plane cost?", "pricing"),
        ("were are you located", "location"),
        ("Where can I park my car?", "parking"),
        ("can i get my money back", "refunds"),
        ("Can I get a refund for my ticket?", "refunds"),
        ("what is your phone number", "contact"),
        ("what can you do", "what I can do"),
        ("do you have wheelchair access", "accessibility"),
    ],
)
def test_concierge_matches_questions_and_misheard_ones(question, topic):
    concierge = Concierge()
    assert concierge.match(question)[0] == topic
    assert concierge.reply(question, []).tool_call is None


def test_concierge_answers_carry_the_facts():
    concierge = make_responder("concierge")
    assert "Saturday" in concierge.reply("opening hours", []).text
    assert "parking garage" in concierge.reply("is there parking", []).text


def test_concierge_falls_back_politely_listing_topics():
    for off_topic in ("tell me about quantum physics", "What is the weather on Mars", ""):
        text = make_responder("concierge").reply(off_topic, []).text
        assert "rephrase" in text and "opening hours" in text and "parking" in text


def test_concierge_small_talk():
    concierge = make_responder("concierge")
    assert concierge.reply("hello", []).text.startswith("Hello")
    assert "welcome" in concierge.reply("thanks, bye", []).text


def test_fuzzy_index_scores():
    index = FuzzyIndex([("a", "opening hours"), ("b", "parking garage")])
    assert index.best("opening ours")[0] == "a"
    assert index.best("zzz") == (None, 0.0)


# ---- lookup -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("status of order 4,572", "4572"),
        ("order 4 5 7 2", "4572"),
        ("order four five seven two", "4572"),
        ("four thousand five hundred seventy two", "4572"),
        ("five hundred and seven", "507"),
        ("twenty one", "21"),
        ("no digits here", None),
    ],
)
def test_spoken_numbers(text, digits):
    assert spoken_number(text) == digits


@pytest.mark.parametrize(
    ("text", "call"),
    [
        ("What is the status of order 4,572?", ToolCall("lookup_order", {"order_id": "4572"})),
        ("where is my order four five seven two", ToolCall("lookup_order", {"order_id": "4572"})),
        ("What's the weather like in Paris today?", ToolCall("get_weather", {"city": "Paris"})),
        ("is it raining in new york right now", ToolCall("get_weather", {"city": "New York"})),
        ("what's the apple stock price", ToolCall("get_stock_price", {"symbol": "AAPL"})),
    ],
)
def test_lookup_makes_tool_calls(text, call):
    reply = make_responder("lookup").reply(text, [])
    assert reply.tool_call == call
    assert reply.text  # something to say while the tool runs


def test_lookup_asks_for_missing_details():
    lookup = make_responder("lookup")
    assert lookup.reply("where is my order", []) == Reply("Sure — what's the order number?")
    assert lookup.reply("what's the weather", []).tool_call is None
    assert "order" in lookup.reply("good morning", []).text


def test_lookup_tool_results_become_sentences():
    lookup = make_responder("lookup")
    order = ToolCall("lookup_order", {"order_id": "4572"})
    out = json.dumps({"status": "shipped", "eta": "on Friday"})
    assert lookup.tool_result(order, out) == Reply(
        "Order 4572 is shipped and should arrive on Friday."
    )
    weather = ToolCall("get_weather", {"city": "Paris"})
    text = lookup.tool_result(weather, '{"temperature_c": 18, "conditions": "sunny"}').text
    assert text == "In Paris it's 18 degrees sunny."
    assert "not found" in lookup.tool_result(order, '{"error": "not found"}').text
    assert lookup.tool_result(order, "delayed").text == "Here's what I found: delayed."


def test_lookup_tool_definitions_cover_its_calls():
    names = {t["name"] for t in LOOKUP_TOOLS}
    assert names == {"lookup_order", "get_weather", "get_stock_price"}
    assert all(t["type"] == "function" and t["parameters"]["required"] for t in LOOKUP_TOOLS)


# ---- greeter → specialist ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "topic", "fact"),
    [
        ("I have a question about my bill.", "billing", "invoice"),
        ("My camera is not working. I need technical help.", "technical", "reload the page"),
    ],
)
def test_greeter_hands_off_and_specialist_answers_in_its_own_voice(text, topic, fact):
    greeter, specialist = make_responder("greeter"), make_responder("specialist")
    handoff = greeter.reply(text, [])
    assert handoff.handoff_to == "specialist" and handoff.handoff_to in RESPONDERS
    assert "specialist" in handoff.text and topic in handoff.text
    history = [("user", text), ("assistant", handoff.text)]
    answer = specialist.reply(text, history)
    assert answer.handoff_to is None and fact in answer.text
    assert answer.text.startswith("Hi, I'm Sam")  # introduces itself once …
    later = specialist.reply("and my invoice?", [*history, ("assistant", answer.text)])
    assert not later.text.startswith("Hi, I'm Sam")  # … not every turn
    assert getattr(specialist, "voice", None) != getattr(greeter, "voice", None)


def test_greeter_welcomes_without_handoff():
    replies = _converse("greeter", ["hello", "not sure"])
    assert replies[0].handoff_to is None and "welcome" in replies[0].text
    assert replies[1].handoff_to is None and "billing or technical" in replies[1].text


def test_default_tool_result_for_personas_without_tools():
    reply = make_responder("echo").tool_result(ToolCall("get_time", {}), "12:00")
    assert reply == Reply("The get time tool says: 12:00")
