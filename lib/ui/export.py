"""Exports of recorded data: one place for the formats (CSV, JSON, Parquet)."""

from __future__ import annotations

import io
from typing import Final, Literal

import pandas as pd

Format = Literal["csv", "json", "parquet"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "json", "parquet")
MIME: Final[dict[Format, str]] = {
    "csv": "text/csv",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}


def export_bytes(df: pd.DataFrame, fmt: Format) -> bytes:
    if fmt == "csv":
        return df.to_csv(index=False).encode()
    if fmt == "json":
        return df.to_json(orient="records", indent=2, date_format="iso").encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return buf.getvalue()
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
