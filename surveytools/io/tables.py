"""The one reader of tables users hand over: CSV/TXT/TSV (UTF-8 or GB18030, detected) and XLSX.

It says what it did: the encoding it detected, the sheet it read (only *visible* sheets are
candidates unless a sheet is named; a hidden first sheet is never read by accident) and the
sheets it left out.  A missing, empty (zero-byte), undecodable or damaged file is a
:class:`~surveytools.errors.SurveyError` naming the file, never an internal error::

    df, src = read_table("components.xlsx")          # the first visible sheet
    df, src = read_table("components.xlsx", "2024")  # a named sheet, hidden or not
    src.layer, src.encoding, src.notes               # what was read, and how
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import SurveyError
from ..i18n import Text

CSV_EXT = (".csv", ".txt", ".tsv")
EXCEL_EXT = (".xlsx", ".xlsm")
TABLE_EXT = CSV_EXT + EXCEL_EXT + (".xls",)


def check_input_file(path) -> Path:
    """``path`` as a Path when it is a readable, non-empty file; else a clear error."""
    p = Path(str(path))
    if not p.exists():
        raise SurveyError(Text("输入文件不存在", "input file not found"), code="not_found", file=str(p))
    if p.is_dir():
        raise SurveyError(Text("应为文件，却是一个文件夹", "a file was expected but this is a folder"), code="is_directory",
                          file=str(p))
    if not os.access(p, os.R_OK):
        raise SurveyError(Text("没有读取该文件的权限", "no permission to read the file"), code="permission", file=str(p))
    if p.stat().st_size == 0:
        raise SurveyError(Text("文件是空的（0 字节）", "the file is empty (0 bytes)"), code="empty_file", file=str(p),
                          hint=Text("文件可能在复制或下载时中断，请重新获取", "the copy or download may have been cut short; "
                                    "fetch the file again"))
    return p


def decode_text(raw: bytes, path) -> tuple[str, str]:
    """(text, encoding name) of CSV bytes: UTF-8 (with or without BOM) or GB18030."""
    try:
        return raw.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError as e:
        first = e
    try:
        return raw.decode("gb18030"), "GB18030"
    except UnicodeDecodeError:
        pos = first.start
        line = raw.count(b"\n", 0, pos) + 1
        raise SurveyError(Text(f"无法识别 CSV 的编码：既不是 UTF-8 也不是 GB18030/GBK（第 {line} 行，第 {pos} 字节处："
                               f"{raw[pos:pos + 4].hex(' ')}）",
                               f"cannot tell the CSV's encoding: neither UTF-8 nor GB18030/GBK (line {line}, byte {pos}: "
                               f"{raw[pos:pos + 4].hex(' ')})"),
                          code="encoding", file=str(path),
                          hint=Text("用 Excel 或文本编辑器另存为 UTF-8 CSV", "save it again as a UTF-8 CSV")) from None


def read_table(path, sheet: str | None = None, *, header: int | None = 0, empty_as_null: bool = False):
    """A CSV or XLSX file as a DataFrame of text (CSV) or cell values (XLSX); returns (frame, Source).

    ``header=None`` keeps every row as data; ``empty_as_null`` reads empty CSV cells as missing
    (else as "").
    """
    import io

    import pandas as pd

    from . import Source

    p = check_input_file(path)
    low = p.name.lower()
    src = Source(path=str(p), layer=sheet)
    if low.endswith(CSV_EXT):
        text, enc = decode_text(p.read_bytes(), p)
        src.encoding, src.encoding_detected, src.driver = enc, True, "CSV"
        if not text.strip():
            raise SurveyError(Text("CSV 文件没有内容（只有空白）", "the CSV file holds nothing but blanks"),
                              code="empty_file", file=str(p))
        try:
            df = pd.read_csv(io.StringIO(text), dtype=str, header=header, keep_default_na=False,
                             na_values=[""] if empty_as_null else None, sep="\t" if low.endswith(".tsv") else ",")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
            raise SurveyError(Text(f"无法读取 CSV：{e}", f"cannot read the CSV: {e}"), code="unreadable",
                              file=str(p)) from None
    elif low.endswith(EXCEL_EXT):
        df, name, notes = _read_excel(p, sheet, header)
        src.layer, src.driver, src.encoding = name, "XLSX", "UTF-8 (XLSX)"
        src.notes.extend(notes)
    elif low.endswith(".xls"):
        raise SurveyError(Text("不支持旧版 Excel（.xls）文件", "old Excel files (.xls) are not supported"), code="bad_format",
                          file=str(p), hint=Text("在 Excel 中另存为 .xlsx", "save it as .xlsx in Excel"))
    else:
        raise SurveyError(Text("只支持 CSV 或 XLSX 表格", "only CSV and XLSX tables are supported"), code="bad_format",
                          file=str(p))
    src.count = len(df)
    return df, src


def _read_excel(p: Path, sheet, header):
    import openpyxl
    import pandas as pd

    try:
        book = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as e:  # a damaged or mislabelled file: openpyxl raises many kinds
        raise SurveyError(Text(f"无法打开 Excel 文件（文件损坏或不是 XLSX）：{type(e).__name__}: {e}",
                               f"cannot open the Excel file (damaged, or not XLSX): {type(e).__name__}: {e}"),
                          code="unreadable", file=str(p)) from None
    try:
        names = list(book.sheetnames)
        visible = [n for n in names if book[n].sheet_state == "visible"]
    finally:
        book.close()
    hidden = [n for n in names if n not in visible]
    notes = []
    if sheet is not None:
        if sheet not in names:
            raise SurveyError(Text(f"工作表不存在（可用：{', '.join(names)}）", f"no such sheet (available: {', '.join(names)})"),
                              code="no_layer", file=str(p), layer=sheet)
        name = sheet
        if sheet in hidden:
            notes.append(Text(f"读取的工作表“{sheet}”是隐藏的（按指定读取）", f"the sheet '{sheet}' read is hidden (read as named)"))
    else:
        if not visible:
            raise SurveyError(Text("工作簿没有可见的工作表", "the workbook has no visible sheet"), code="no_layer",
                              file=str(p), hint=Text("用 PATH:SHEET 指定工作表", "name a sheet as PATH:SHEET"))
        name = visible[0]
        if len(names) > 1:
            others = [n for n in visible[1:]]
            notes.append(Text(f"读取工作表“{name}”" + (f"；其余可见工作表未读：{', '.join(others)}" if others else "")
                              + (f"；隐藏的工作表已忽略：{', '.join(hidden)}" if hidden else "") + "（用 PATH:SHEET 指定其他工作表）",
                              f"read sheet '{name}'" + (f"; other visible sheets not read: {', '.join(others)}" if others else "")
                              + (f"; hidden sheets ignored: {', '.join(hidden)}" if hidden else "")
                              + " (name another as PATH:SHEET)"))
    try:
        df = pd.read_excel(p, sheet_name=name, header=header, dtype=object, engine="openpyxl")
    except Exception as e:
        raise SurveyError(Text(f"无法读取工作表：{type(e).__name__}: {e}", f"cannot read the sheet: {type(e).__name__}: {e}"),
                          code="unreadable", file=str(p), layer=name) from None
    return df, name, notes


def cells_to_text(df):
    """Spreadsheet cells as text, the way they were typed: whole numbers without '.0', dates as
    ISO, empty cells as None."""
    import datetime as dt

    import numpy as np
    import pandas as pd

    out = {}
    for c in df.columns:
        vals = []
        for v in df[c].tolist():
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
                vals.append(None)
            elif isinstance(v, bool):
                vals.append(str(v))
            elif isinstance(v, (int, np.integer)):
                vals.append(str(int(v)))
            elif isinstance(v, (float, np.floating)):
                vals.append(str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v)))
            elif isinstance(v, (pd.Timestamp, dt.datetime)):
                ts = pd.Timestamp(v)
                vals.append(ts.date().isoformat() if ts == ts.normalize() else ts.isoformat(sep=" "))
            elif isinstance(v, dt.date):
                vals.append(v.isoformat())
            else:
                vals.append(str(v))
        out[c] = pd.Series(vals, dtype=object)
    return pd.DataFrame(out, columns=list(df.columns)) if len(df.columns) else df.astype(object)
