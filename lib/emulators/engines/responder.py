"""The scripted "model" behind the local Realtime server: personas, no LLM.

Each persona is deterministic: the same user text and history give the same reply, so tests
and demos repeat exactly. Personas are stateless between calls — the server passes the history
(role, text) of earlier turns, *not* including the current user text — so one instance can
serve many sessions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lib.emulators.engines.personas import (
    ACKNOWLEDGEMENTS,
    CONCIERGE_FAQ,
    DEFAULT_QUESTIONS,
    FAQ_GREETING,
    FAQ_THANKS,
    ROUTES,
    STOPWORDS,
    FuzzyIndex,
    Route,
    spoken_number,
    words,
)

__all__ = [
    "LOOKUP_TOOLS",
    "RESPONDERS",
    "Reply",
    "Responder",
    "ToolCall",
    "make_responder",
]

History = Sequence[tuple[str, str]]  # (role "user" | "assistant", text), oldest first


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    text: str
    tool_call: ToolCall | None = None
    handoff_to: str | None = None  # agent name; `text` announces the handoff


class Responder(Protocol):
    name: str

    def reply(self, user_text: str, history: History) -> Reply: ...

    def tool_result(self, call: ToolCall, output: str) -> Reply: ...


class _Base:
    name = "base"
    voice = (
        "ava-us"  # suggested lib.emulators.engines.tts voice id, so the avatar can sound different
    )

    def tool_result(self, call: ToolCall, output: str) -> Reply:
        return Reply(f"The {call.name.replace('_', ' ')} tool says: {output}")


def _prior(user_text: str, history: History) -> list[tuple[str, str]]:
    """History without the current turn, even if a caller appended it already."""
    turns = list(history)
    if turns and turns[-1] == ("user", user_text):
        turns.pop()
    return turns


# ---- echo -------------------------------------------------------------------------------


class Echo(_Base):
    """Says back what it heard: the shortest reply, for latency measurements."""

    name = "echo"

    def reply(self, user_text: str, history: History) -> Reply:
        text = user_text.strip()
        return Reply(f"You said: {text}" if text else "I didn't hear anything.")


# ---- interviewer ------------------------------------------------------------------------


def _keyword(answer: str) -> str | None:
    """The most telling word of an answer: the longest non-stopword (first one on ties)."""
    candidates = [w for w in words(answer) if w not in STOPWORDS and len(w) > 2 and not w.isdigit()]
    return max(candidates, key=len) if candidates else None


class Interviewer(_Base):
    """Asks `questions` in order, acknowledges each answer, then thanks and closes."""

    name = "interviewer"
    voice = "olivia-gb"

    def __init__(self, questions: Sequence[str] | None = None, role: str = "this role") -> None:
        self.questions = tuple(q.strip() for q in (questions or DEFAULT_QUESTIONS) if q.strip())
        if not self.questions:
            raise ValueError("the interviewer needs at least one question")
        self.role = role

    def reply(self, user_text: str, history: History) -> Reply:
        asked = sum(1 for role, _ in _prior(user_text, history) if role == "assistant")
        if asked == 0:
            return Reply(f"Hi, thanks for joining me today. {self.questions[0]}")
        if asked > len(self.questions):
            return Reply("Our interview is complete. Thanks again, and have a great day!")
        ack = self._acknowledge(user_text, asked - 1)
        if asked < len(self.questions):
            return Reply(f"{ack} {self.questions[asked]}")
        return Reply(
            f"{ack} That was my last question. Thank you for your time — "
            "we'll be in touch soon about the next steps."
        )

    @staticmethod
    def _acknowledge(answer: str, index: int) -> str:
        if re.search(r"\b(skip|pass|next question)\b", answer.lower()):
            return "No problem, let's move on."
        kw = _keyword(answer)
        if kw is None:
            return "Thanks for that."
        return ACKNOWLEDGEMENTS[index % len(ACKNOWLEDGEMENTS)].format(kw=kw)


# ---- concierge --------------------------------------------------------------------------


class Concierge(_Base):
    """Answers from a small FAQ, matched fuzzily so transcription slips still land."""

    name = "concierge"
    voice = "ava-us"
    THRESHOLD = 0.2  # below this cosine the question is probably off-topic

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        docs = [(e.topic, " ".join((e.topic, *e.questions))) for e in CONCIERGE_FAQ]
        docs += [("_greeting", FAQ_GREETING), ("_thanks", FAQ_THANKS)]
        self._index = FuzzyIndex(docs)
        # "what can you do" / "who are you" are all stopwords: those go to an index keeping them.
        self._plain = FuzzyIndex(docs, skip=frozenset())
        self._answers = {e.topic: e.answer for e in CONCIERGE_FAQ}

    def match(self, question: str) -> tuple[str | None, float]:
        """The FAQ topic for `question` (None if unsure) and the match score."""
        content = any(w not in STOPWORDS for w in words(question))
        topic, score = (self._index if content else self._plain).best(question)
        return (topic if score >= self.threshold else None), score

    def reply(self, user_text: str, history: History) -> Reply:
        topic, _ = self.match(user_text)
        if topic == "_greeting":
            return Reply("Hello and welcome! How can I help you today?")
        if topic == "_thanks":
            return Reply("You're very welcome. Is there anything else I can help with?")
        if topic is not None:
            return Reply(self._answers[topic])
        topics = [e.topic for e in CONCIERGE_FAQ]
        return Reply(
            "Sorry, I didn't quite catch that. Could you rephrase? I can help with "
            f"{', '.join(topics[:-1])} and {topics[-1]}."
        )


# ---- lookup (function calling) ----------------------------------------------------------

_TICKERS = {
    "apple": "AAPL", "microsoft": "MSFT", "google": "GOOGL", "alphabet": "GOOGL",
    "amazon": "AMZN", "tesla": "TSLA", "nvidia": "NVDA", "meta": "META", "netflix": "NFLX",
}  # fmt: skip

LOOKUP_TOOLS: tuple[dict[str, Any], ...] = tuple(
    {
        "type": "function",
        "name": name,
        "description": desc,
        "parameters": {
            "type": "object",
            "properties": {arg: {"type": "string", "description": arg_desc}},
            "required": [arg],
        },
    }
    for name, desc, arg, arg_desc in (
        ("lookup_order", "Look up an order's status", "order_id", "the order number"),
        ("get_weather", "Current weather for a city", "city", "city name"),
        ("get_stock_price", "Latest price of a stock", "symbol", "ticker symbol, e.g. AAPL"),
    )
)  # Realtime `session.tools` definitions the server can advertise for this persona


_NOT_CITY = frozenset(re.findall(r"\S+", "today tomorrow now right this tonight please like the"))


def _city(text: str) -> str | None:
    """The place after "in"/"for"/"at" ("weather in new york today" → "New York"), ≤ 3 words."""
    m = re.search(r"\b(?:in|for|at)\s+([a-z][a-z ]*)", re.sub(r"[^a-z ]", " ", text))
    if m is None:
        return None
    place: list[str] = []
    for w in m.group(1).split()[:3]:
        if w in _NOT_CITY:
            break
        place.append(w)
    return " ".join(place).title() or None


class Lookup(_Base):
    """Turns order / weather / stock questions into tool calls, and tool output into a sentence."""

    name = "lookup"
    voice = "marcus-us"

    def reply(self, user_text: str, history: History) -> Reply:
        text = user_text.lower()
        if re.search(r"\b(order|package|parcel|delivery|shipment|tracking)\b", text):
            order_id = spoken_number(
                re.split(r"\b(?:order|package|parcel|number)\b", text, maxsplit=1)[-1]
            )
            order_id = order_id or spoken_number(text)
            if order_id is None:
                return Reply("Sure — what's the order number?")
            return Reply(
                f"Let me look up order {order_id}.",
                ToolCall("lookup_order", {"order_id": order_id}),
            )
        if re.search(r"\b(weather|temperature|rain|raining|sunny|forecast|cold|hot)\b", text):
            city = _city(text)
            if city is None:
                return Reply("Which city should I check the weather for?")
            return Reply(
                f"Checking the weather in {city}.", ToolCall("get_weather", {"city": city})
            )
        if re.search(r"\b(stock|share|shares|ticker|trading|price of)\b", text):
            symbol = next((s for n, s in _TICKERS.items() if n in text), None)
            m = re.search(r"\b([A-Z]{2,5})\b", user_text)
            symbol = symbol or (m.group(1) if m else None)
            if symbol is None:
                return Reply("Which company's stock should I look up?")
            return Reply(f"Looking up {symbol}.", ToolCall("get_stock_price", {"symbol": symbol}))
        return Reply(
            "I can look up an order's status, the weather in a city, or a stock price. "
            "What would you like to know?"
        )

    def tool_result(self, call: ToolCall, output: str) -> Reply:
        try:
            data = json.loads(output)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return Reply(f"Here's what I found: {output.strip() or 'nothing'}.")
        if "error" in data:
            return Reply(f"Sorry, I couldn't get that: {data['error']}.")
        args = call.arguments
        if call.name == "lookup_order":
            parts = [f"Order {args.get('order_id', '')} is {data.get('status', 'on record')}"]
            if "eta" in data:
                parts.append(f"and should arrive {data['eta']}")
            return Reply(" ".join(parts) + ".")
        if call.name == "get_weather":
            parts = [f"In {args.get('city', 'that city')} it's"]
            if "temperature_c" in data:
                parts.append(f"{data['temperature_c']} degrees")
            parts.append(str(data.get("conditions", "as reported")))
            return Reply(" ".join(parts) + ".")
        if call.name == "get_stock_price" and "price" in data:
            currency = data.get("currency", "dollars")
            return Reply(f"{args.get('symbol', 'It')} is trading at {data['price']} {currency}.")
        details = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in data.items())
        return Reply(f"Here's what I found: {details}.")


# ---- greeter → specialist handoff -------------------------------------------------------


def _route(text: str) -> Route | None:
    lowered = " ".join(words(text))
    for route in ROUTES:
        if any(re.search(rf"\b{re.escape(k)}", lowered) for k in route.keywords):
            return route
    return None


class Greeter(_Base):
    """Front desk: welcomes, and hands billing or technical questions to the specialist."""

    name = "greeter"
    voice = "ava-us"
    HANDOFF_TO = "specialist"

    def reply(self, user_text: str, history: History) -> Reply:
        route = _route(user_text)
        if route is not None:
            return Reply(
                f"Let me hand you to our specialist, who can help with {route.topic} questions. "
                "One moment please.",
                handoff_to=self.HANDOFF_TO,
            )
        if not _prior(user_text, history):
            return Reply(
                "Hello, and welcome to Avatar Lab! I can connect you with billing or "
                "technical support. What do you need help with?"
            )
        return Reply(
            "I can connect you with billing or technical support. Which one would you like?"
        )


class Specialist(_Base):
    """Takes over after the greeter; answers in its own voice about billing or tech support."""

    name = "specialist"
    voice = "marcus-us"

    def reply(self, user_text: str, history: History) -> Reply:
        turns = _prior(user_text, history)
        route = _route(user_text) or next(
            (r for role, t in reversed(turns) if role == "user" if (r := _route(t))), None
        )
        intro = (
            ""
            if any(r == "assistant" and "Sam" in t for r, t in turns)
            else ("Hi, I'm Sam, the specialist. ")
        )
        if route is None:
            return Reply(f"{intro}Is your question about billing or a technical problem?")
        return Reply(f"{intro}{route.answer}")


# ---- registry ---------------------------------------------------------------------------

RESPONDERS: dict[str, Callable[..., Responder]] = {
    "interviewer": Interviewer,
    "concierge": Concierge,
    "echo": Echo,
    "lookup": Lookup,
    "greeter": Greeter,
    "specialist": Specialist,
}


def make_responder(persona: str, **options: Any) -> Responder:
    """A persona by name; `options` go to its constructor (e.g. interviewer `questions=[...]`)."""
    factory = RESPONDERS.get(persona)
    if factory is None:
        raise ValueError(f"unknown persona {persona!r}; known personas: {', '.join(RESPONDERS)}")
    return factory(**options)
