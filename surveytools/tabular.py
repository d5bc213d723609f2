"""The one writer of spreadsheets and CSV files: every XLSX and CSV that surveytools writes goes through here.

**Formula injection.**  A department name, a note or an address typed as ``=HYPERLINK(…)``, ``+cmd|…``,
``-2+3`` or ``@SUM(…)`` becomes a live formula when a spreadsheet program opens the file.  Following the
OWASP recommendation ("CSV injection"), a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is neutralised:

* **XLSX**: the cell is stored as a *string* (never a ``<f>`` formula element) with the ``quotePrefix``
  style, so Excel and LibreOffice show the text exactly as typed and keep it text when the cell is edited.
  :func:`harden_workbook` does this for every cell of a workbook, whoever filled it; :func:`save_workbook`
  calls it before every save.
* **CSV**: a CSV has no types, so the text is prefixed with a single quote ``'`` (``=1+2`` is written
  ``'=1+2``).

Real numbers stay numbers: a numeric cell is never touched, and text that is just a number (``-5``,
``+3.25``, ``-1e3``) is written unchanged, because a spreadsheet reads it as that number and nothing else.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

#: first characters that make a spreadsheet program evaluate a cell (OWASP)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_START_RE = r"^[=+\-@\t\r]"
_NUMBER_RE = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_NUMBER = re.compile(_NUMBER_RE)


def is_formula_like(value) -> bool:
    """True for text a spreadsheet would evaluate: it starts with = + - @ TAB CR and is not a plain number."""
    return (isinstance(value, str) and value[:1] in FORMULA_START and _NUMBER.match(value.strip()) is None)


def neutralise(value):
    """One CSV cell: formula-like text gets a leading ``'``; everything else is returned unchanged."""
    return "'" + value if is_formula_like(value) else value


def neutralise_frame(df):
    """A copy of ``df`` whose text columns are neutralised (whole columns at a time, no per-row Python)."""
    import pandas as pd

    out = df.copy()
    for c in out.columns:
        s = out[c]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
            continue
        try:
            text = s.str
            mask = text.contains(_START_RE, regex=True, na=False) & ~text.strip().str.match(_NUMBER_RE, na=False)
        except AttributeError:  # not a text column after all (e.g. bytes)
            continue
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            s = s.astype(object).copy()
            s[mask] = "'" + s[mask].astype(str)
            out[c] = s
    return out


def write_csv(df, path, *, encoding: str = "utf-8-sig", errors: str = "strict", **kw) -> None:
    """Write a DataFrame as CSV (no index) with text cells neutralised.  ``path`` should be a temporary
    path of the caller's atomic output (:func:`surveytools.gpkg.atomic_output`).

    Rows end in CRLF (RFC 4180), so a value holding a lone CR or LF is quoted and cannot split its row."""
    kw.setdefault("lineterminator", "\r\n")
    neutralise_frame(df).to_csv(path, index=False, encoding=encoding, errors=errors, **kw)


def write_rows_csv(path, header: list, rows, *, encoding: str = "utf-8-sig") -> None:
    """Write ``header`` and ``rows`` (lists or dicts keyed by the header) as CSV with text cells neutralised."""
    import csv

    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow([neutralise(h) for h in header])
        for r in rows:
            vals = [r.get(h) for h in header] if isinstance(r, dict) else list(r)
            w.writerow([neutralise(v) for v in vals])


# ----------------------------------------------------------------------------------------------
# XLSX

def harden_cell(cell) -> bool:
    """Make one openpyxl cell plain text if it holds formula-like text; True when changed."""
    v = cell.value
    if isinstance(v, str) and v[:1] in FORMULA_START and _NUMBER.match(v.strip()) is None:
        cell.data_type = "s"
        cell.quotePrefix = True
        return True
    return False


def harden_workbook(wb) -> int:
    """Turn every formula-like text cell of ``wb`` into plain text (see the module doc); return how many."""
    n = 0
    for ws in wb.worksheets:
        # the cells that exist (openpyxl keeps them in ws._cells); iter_rows() would also make empty ones
        cells = ws._cells.values() if hasattr(ws, "_cells") else (c for row in ws.iter_rows() for c in row)
        for cell in cells:
            v = cell._value if hasattr(cell, "_value") else cell.value
            if v.__class__ is str and v[:1] in FORMULA_START:
                n += harden_cell(cell)
    return n


def save_workbook(wb, path, *, atomic: bool = True) -> None:
    """Harden and save ``wb``.  With ``atomic`` (the default) it is saved beside ``path`` under a temporary
    name and renamed into place; pass ``atomic=False`` when ``path`` already is a temporary path."""
    harden_workbook(wb)
    if not atomic:
        wb.save(str(path))
        return
    from .gpkg import atomic_output

    with atomic_output(Path(path), overwrite=True, suffix=Path(path).suffix or ".xlsx") as tmp:
        wb.save(str(tmp))
        os.chmod(tmp, 0o644)


def write_frame_xlsx(df, path, *, sheet: str = "Sheet1", atomic: bool = False) -> None:
    """A DataFrame as a one-sheet workbook (bold header, frozen first row), hardened."""
    import math

    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31]
    ws.append([str(c) for c in df.columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for rec in df.itertuples(index=False):
        ws.append([_xlsx_value(x, math) for x in rec])
    ws.freeze_panes = "A2"
    save_workbook(wb, path, atomic=atomic)


def _xlsx_value(x, math):
    if x is None:
        return None
    if isinstance(x, float):
        return None if math.isnan(x) else x
    if isinstance(x, (bool, int, str)):
        return x
    try:
        import pandas as pd

        if pd.isna(x):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(x, "item"):  # numpy scalars
        return x.item()
    return str(x)
