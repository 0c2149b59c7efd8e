"""Streamlit pieces shared by the analytics pages: opening the store, the filter bar, number
formatting and downloads."""

from __future__ import annotations

import datetime as dt
import math
from typing import Final

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from lib.metrics.pricing.tables import PricingError, PricingTable
from lib.metrics.pricing.versions import load_tables
from lib.store.database import Store, StoreError, open_store
from lib.store.queries import (
    Filters,
    conversation_choices,
    conversation_span,
    experiments,
    recorded_people,
)
from lib.ui.export import FORMATS, MIME, export_bytes

UNKNOWN_PERSON: Final = "(unknown)"  # how a row with no creator recorded shows


def store_or_stop() -> Store:
    """The store; if it cannot be opened, the page says why and stops."""
    try:
        return open_store()
    except StoreError as exc:
        st.error(str(exc))
        st.stop()


def store_and_tables_or_stop(
    what_to_do: str | None = None,
) -> tuple[Store, dict[str, PricingTable]]:
    """The store and the pricing tables; if either fails, the page says why (and
    `what_to_do`) and stops."""
    try:
        store = open_store()
        return store, load_tables(store)
    except (StoreError, PricingError) as exc:
        st.error(str(exc))
        if what_to_do:
            st.caption(what_to_do)
        st.stop()


def ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def usd(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"${value:,.{digits}f}"


def person(created_by: object) -> str:
    """Who made a row, as the pages show it."""
    return created_by if isinstance(created_by, str) and created_by else UNKNOWN_PERSON


def people_picker(
    store: Store, key: str, where: DeltaGenerator | None = None, studio: bool = True
) -> tuple[str, ...]:
    """The People multiselect: who made the conversations (and, with `studio`, the Studio
    sessions), none chosen meaning everyone; "" stands for rows with no creator recorded
    (shown as "(unknown)")."""
    return tuple(
        (where or st).multiselect(
            "People",
            recorded_people(store, studio),
            format_func=person,
            placeholder="everyone",
            key=f"{key}-people",
        )
    )


def filter_bar(store: Store, key: str) -> Filters:
    """Provider, bridge mode, chunk strategy, experiment, dates and people, from what is
    recorded. `?experiment=<id>` in the URL preselects an experiment (the Experiments page
    links so)."""
    options = conversation_choices(store)
    recorded = experiments(store)
    names = {"": "all conversations"} | {
        str(i): f"{n} · {dt.datetime.fromtimestamp(float(t)):%Y-%m-%d %H:%M}"
        for i, n, t in zip(recorded["id"], recorded["name"], recorded["created_at"], strict=True)
    }
    wanted = st.query_params.get("experiment", "")
    c1, c2, c3, c4, c5, c6 = st.columns([1, 1, 1.4, 1.6, 1.4, 1.4])
    providers = c1.multiselect(
        "Avatar", sorted(options["avatar_provider"].dropna().unique()), key=f"{key}-prov"
    )
    bridges = c2.multiselect("Bridge", sorted(options["bridge"].dropna().unique()), key=f"{key}-br")
    chunkings = c3.multiselect(
        "Chunk strategy", sorted(options["chunking"].dropna().unique()), key=f"{key}-ch"
    )
    ids = list(names)
    experiment = c4.selectbox(
        "Experiment",
        ids,
        index=ids.index(wanted) if wanted in ids else 0,
        format_func=lambda i: names[i],
        key=f"{key}-exp",
    )
    lo, hi = conversation_span(store)
    today = dt.date.today()
    first = dt.date.fromtimestamp(lo) if lo is not None else today
    last = max(today, dt.date.fromtimestamp(hi)) if hi is not None else today
    span = c5.date_input("Dates", value=(first, last), key=f"{key}-dates")
    since, until = span if isinstance(span, tuple) and len(span) == 2 else (None, None)
    people = people_picker(store, key, c6, studio=False)  # these pages show conversations
    return Filters(
        providers=tuple(providers),
        bridges=tuple(bridges),
        chunkings=tuple(chunkings),
        experiment=str(experiment) if experiment else None,
        since=since,
        until=until,
        people=people,
    )


def downloads(name: str, table: pd.DataFrame, key: str, file_stem: str | None = None) -> None:
    """One download button per export format, labelled `name · CSV` and so on."""
    cols = st.columns(len(FORMATS))
    stem = file_stem or name.replace(" ", "-")
    for col, fmt in zip(cols, FORMATS, strict=True):
        col.download_button(
            f"{name} · {fmt.upper()}",
            export_bytes(table, fmt),
            file_name=f"{stem}.{fmt}",
            mime=MIME[fmt],
            key=f"{key}-{fmt}",
        )
