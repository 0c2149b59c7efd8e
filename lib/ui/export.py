"""Exports of recorded data: one place for the formats (CSV, JSON, Parquet).

CSV is opened in spreadsheets, which run a cell starting with `=`, `+`, `-` or `@` (or a tab or
carriage return before one) as a formula: text from users, models and providers could then
fetch URLs or run commands on the machine that opens the file. Such text cells get a leading `'`
(OWASP's advice on CSV injection); numbers stay numbers. JSON and Parquet keep the raw values.
"""

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
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def defused(value: object) -> object:
    """A text cell a spreadsheet would take for a formula, prefixed with `'`; anything else
    as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every text cell defused (columns of numbers, dates and booleans untouched)."""
    out = df.copy()
    for i in range(df.shape[1]):
        col = df.iloc[:, i]
        if col.dtype == object or isinstance(col.dtype, pd.CategoricalDtype | pd.StringDtype):
            out.isetitem(i, col.astype(object).map(defused).to_numpy())
    return out


def export_bytes(df: pd.DataFrame, fmt: Format) -> bytes:
    if fmt == "csv":
        # CRLF rows (RFC 4180): a cell holding a lone CR is then quoted, not read as a new row.
        return csv_safe(df).to_csv(index=False, lineterminator="\r\n").encode()
    if fmt == "json":
        return df.to_json(orient="records", indent=2, date_format="iso").encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return buf.getvalue()
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
