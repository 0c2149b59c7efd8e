"""What the scripted personas know and how they understand noisy transcripts.

Data (FAQ, interview questions, routing topics) plus two text tools with no model behind them:
`FuzzyIndex`, character n-gram TF-IDF (robust to transcription slips like "opening ours" or
"premium plane"), and `spoken_number` (turns "four thousand five hundred seventy two" or
"4 5 7 2" into "4572"). The persona classes themselves live in `lib.emulators.engines.responder`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CONCIERGE_FAQ",
    "DEFAULT_QUESTIONS",
    "ROUTES",
    "STOPWORDS",
    "FaqEntry",
    "FuzzyIndex",
    "Route",
    "spoken_number",
    "words",
]

STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        """a about above after again all am an and any are as at be been before being but by can
        could did do does doing don for from had has have having he her here hers him his how i
        i'm if in into is it it's its just me more most my no nor not now of off on once only or
        other our out over own really same she should so some such than that that's the their
        them then there these they this those through to too um uh under until up very was we
        well were what when where which while who whom why will with would yeah yes you your
        yours like i've i'd im ive kind sort lot things thing stuff""",
    )
)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


# ---- fuzzy matching ---------------------------------------------------------------------


def _grams(text: str, skip: frozenset[str], sizes: tuple[int, ...] = (3, 4)) -> Counter[str]:
    """Character n-grams of padded words: "hours" → " ho", "hou", … ("ours" shares most)."""
    out: Counter[str] = Counter()
    for w in words(text):
        if w in skip:
            continue
        padded = f" {w} "
        for n in sizes:
            out.update(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
    return out


class FuzzyIndex:
    """Cosine similarity of TF-IDF-weighted character n-grams of (key, text) documents.

    `skip` words (stopwords by default) are ignored on both sides, so "what is the weather"
    does not match an FAQ entry just because both say "what is the".
    """

    def __init__(self, docs: Sequence[tuple[str, str]], skip: frozenset[str] = STOPWORDS) -> None:
        self._skip = skip
        self._keys = [k for k, _ in docs]
        grams = [_grams(t, skip) for _, t in docs]
        df: Counter[str] = Counter(g for doc in grams for g in doc)
        n = len(docs)
        self._idf = {g: math.log((1 + n) / (1 + c)) + 1.0 for g, c in df.items()}
        self._vecs = [self._weigh(doc) for doc in grams]

    def _weigh(self, grams: Counter[str]) -> dict[str, float]:
        vec = {g: (1 + math.log(c)) * self._idf.get(g, 0.0) for g, c in grams.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {g: v / norm for g, v in vec.items()}

    def best(self, query: str) -> tuple[str | None, float]:
        """The best key and its score in [0, 1]; (None, 0.0) when nothing overlaps."""
        q = self._weigh(_grams(query, self._skip))
        best_key: str | None = None
        best = 0.0
        for key, vec in zip(self._keys, self._vecs, strict=True):
            score = sum(v * vec.get(g, 0.0) for g, v in q.items())
            if score > best:
                best_key, best = key, score
        return best_key, best


# ---- numbers as spoken ------------------------------------------------------------------

_UNITS = {
    w: i
    for i, w in enumerate(
        re.findall(
            r"\S+",
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen",
        )
    )
}
_UNITS["oh"] = 0
_TENS = {w: 10 * i for i, w in enumerate(re.findall(r"\S+", "_ _ twenty thirty forty fifty "
    "sixty seventy eighty ninety")) if w != "_"}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}


def spoken_number(text: str) -> str | None:
    """The longest number in `text`, as digits: "4,572", "4 5 7 2", "four five seven two" and
    "four thousand five hundred seventy two" all give "4572". None when there is no number."""
    tokens = re.findall(r"\d+|[a-z]+", text.lower().replace(",", "").replace("-", " "))
    runs: list[str] = []
    digits: list[str] = []  # a run of digit groups / single number words: concatenated
    value, current, spelled = 0, 0, False  # a compositional number ("five hundred seventy two")

    def close() -> None:
        nonlocal digits, value, current, spelled
        if spelled:
            runs.append(str(value + current))
        elif digits:
            runs.append("".join(digits))
        digits, value, current, spelled = [], 0, 0, False

    for tok in tokens:
        if tok.isdigit():
            if spelled:
                close()
            digits.append(tok)
        elif tok in _SCALES and (current or value or digits):
            if digits and not spelled:  # "4 thousand"
                current, digits = int("".join(digits)), []
            current = max(current, 1) * _SCALES[tok]
            if _SCALES[tok] >= 1000:
                value, current = value + current, 0
            spelled = True
        elif tok in _TENS or (tok in _UNITS and spelled and current % 10 == 0 and current % 100):
            current += _TENS.get(tok, _UNITS.get(tok, 0))
            spelled = True
        elif tok in _UNITS:
            if spelled and (current % 100 == 0):  # "five hundred seven"
                current += _UNITS[tok]
            else:
                digits.append(str(_UNITS[tok]))
        elif tok == "and" and spelled:
            continue
        else:
            close()
    close()
    return max(runs, key=len) if runs else None


# ---- concierge FAQ ----------------------------------------------------------------------


@dataclass(frozen=True)
class FaqEntry:
    topic: str  # shown in the fallback's topic list
    questions: tuple[str, ...]  # paraphrases and keywords the matcher compares against
    answer: str


CONCIERGE_FAQ: tuple[FaqEntry, ...] = (
    FaqEntry(
        "opening hours",
        (
            "what are your opening hours",
            "when are you open",
            "what time do you close",
            "are you open on sunday saturday weekend",
            "hours schedule open today",
        ),
        "We're open Monday to Friday from 9 am to 6 pm, and Saturdays from 10 am to 4 pm. "
        "We're closed on Sundays.",
    ),
    FaqEntry(
        "pricing",
        (
            "how much does it cost",
            "what is the price",
            "pricing plans premium plan",
            "how expensive is the subscription fee",
            "is there a free trial",
        ),
        "The Basic plan is free. Premium is 19 dollars a month, and Team is 49 dollars a "
        "month for up to five people. Every paid plan starts with a 14-day free trial.",
    ),
    FaqEntry(
        "location",
        (
            "where are you located",
            "what is your address",
            "how do I find you",
            "directions to the office building",
        ),
        "You'll find us at 200 Market Street, on the second floor, next to the central station.",
    ),
    FaqEntry(
        "parking",
        ("where can I park my car", "is there parking", "car park garage", "can I park for free"),
        "There's a parking garage under the building. The first two hours are free with "
        "validation at the front desk.",
    ),
    FaqEntry(
        "refunds",
        (
            "can I get a refund",
            "how do I get my money back",
            "return policy",
            "cancel and refund my ticket order purchase",
        ),
        "You can get a full refund within 30 days of purchase. Just reply to your receipt "
        "email or ask at the front desk, and it's back on your card in 3 to 5 days.",
    ),
    FaqEntry(
        "contact",
        (
            "how can I contact you",
            "what is your phone number",
            "email address support",
            "talk to a human person call",
        ),
        "You can call us at 555 0100, or email hello at avatar lab dot example. "
        "A person answers during opening hours.",
    ),
    FaqEntry(
        "what I can do",
        (
            "what can you do",
            "what are you able to help with",
            "who are you",
            "what are your abilities features",
            "how do you work",
        ),
        "I'm a virtual concierge. I can tell you about our opening hours, prices, location, "
        "parking, refunds and how to reach us. Just ask!",
    ),
    FaqEntry(
        "accessibility",
        ("is the building accessible", "wheelchair access elevator", "step free entrance"),
        "Yes, the entrance is step-free and there's an elevator to every floor.",
    ),
)
FAQ_GREETING = "hello hi hey good morning good afternoon"
FAQ_THANKS = "thank you thanks great perfect bye goodbye see you"


# ---- interviewer ------------------------------------------------------------------------

DEFAULT_QUESTIONS: tuple[str, ...] = (
    "To start, could you tell me a little about yourself?",
    "What is a project you're especially proud of?",
    "Tell me about a challenge you faced at work and how you handled it.",
    "What are you looking for in your next role?",
)
ACKNOWLEDGEMENTS: tuple[str, ...] = (
    "Thanks — {kw} sounds interesting.",
    "Got it, {kw}. That's helpful.",
    "I appreciate you sharing that about {kw}.",
    "Interesting, especially the part about {kw}.",
    "Understood — {kw}, noted.",
)


# ---- greeter → specialist routing -------------------------------------------------------


@dataclass(frozen=True)
class Route:
    topic: str  # "billing" | "technical"
    keywords: tuple[str, ...]  # word stems; any one routes the user
    answer: str  # what the specialist says on this topic


ROUTES: tuple[Route, ...] = (
    Route(
        "billing",
        (
            "bill",
            "invoice",
            "payment",
            "pay",
            "charge",
            "refund",
            "subscription",
            "price",
            "card",
            "receipt",
        ),
        "I've pulled up your account. Your last invoice was paid in full, and your next "
        "payment is due on the first of the month. I can also change the card on file or "
        "email you a copy of any invoice.",
    ),
    Route(
        "technical",
        (
            "technical",
            "tech",
            "support",
            "working",
            "broken",
            "error",
            "bug",
            "crash",
            "login",
            "log in",
            "password",
            "camera",
            "microphone",
            "connect",
        ),
        "Let's fix that together. First, reload the page and allow the camera and microphone "
        "when the browser asks. If it still fails, try another browser, and I'll open a "
        "ticket for our engineers.",
    ),
)
