"""Batch geocoding of one column of a CSV or XLSX file.

The output (CSV or XLSX, by its extension) is the input with these columns appended:
``match_level, score, x, y, grid_code, street_code, street_name, community_code, community_name,
place_code, matched, std_address, reason``.  ``match_level`` is empty and ``reason`` says why for
every row that was not matched (empty address, or nothing of the address base found).  Equal
addresses are geocoded once.  CSV input: UTF-8 (with or without BOM), else GB18030.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import SurveyError
from ..i18n import Text

OUT_COLS = ["match_level", "score", "x", "y", "grid_code", "street_code", "street_name", "community_code",
            "community_name", "place_code", "matched", "std_address", "reason"]


def read_table(path) -> pd.DataFrame:
    """The addresses table (see :func:`surveytools.io.tables.read_table`: CSV in UTF-8 or GB18030,
    XLSX from its first visible sheet)."""
    from ..io.tables import cells_to_text
    from ..io.tables import read_table as read

    df, src = read(Path(path))
    return cells_to_text(df) if src.driver == "XLSX" else df


def geocode_frame(idx, df: pd.DataFrame, column: str, feedback=None, file=None) -> pd.DataFrame:
    from .match import forward

    if column not in df.columns:
        raise SurveyError(Text(f"文件中没有地址列“{column}”（现有列：{', '.join(map(str, df.columns))}）",
                               f"the file has no address column '{column}' (columns: {', '.join(map(str, df.columns))})"),
                          code="no_column", file=file, field=column)
    addr = df[column].fillna("").astype(str).str.strip()
    uniq = addr.unique().tolist()
    res = {}
    n = len(uniq)
    for k, a in enumerate(uniq):
        if a:
            r = forward(idx, a)
        else:
            r = {"level": None, "reason": "empty address"}
        if r.get("level") is None and not r.get("reason"):
            r["reason"] = "not matched"
        res[a] = r
        if feedback and k % 500 == 0:
            feedback.progress(5 + 85 * k / max(n, 1))
    out = df.copy()
    rows = [res[a] for a in addr]
    for c in OUT_COLS:
        key = {"match_level": "level", "std_address": "address"}.get(c, c)
        out[c] = [r.get(key) for r in rows]
    return out


def write_table_file(df: pd.DataFrame, path, overwrite: bool = True) -> None:
    from ..gpkg import atomic_output

    p = Path(path)
    ext = p.suffix.lower()
    if ext not in (".csv", ".xlsx"):
        raise SurveyError(Text("输出文件应以 .csv 或 .xlsx 结尾", "the output must end in .csv or .xlsx"), code="bad_format",
                          file=str(p))
    with atomic_output(p, overwrite=overwrite, suffix=ext) as tmp:
        from ..tabular import write_csv, write_frame_xlsx

        if ext == ".csv":
            write_csv(df, tmp, encoding="utf-8-sig")
        else:
            write_frame_xlsx(df, tmp)
