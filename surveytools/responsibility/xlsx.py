"""Styled, printable XLSX sheets (openpyxl): bold filled header, borders, wrapped text, frozen header,
print titles and fit-to-width, landscape A4.  Used by the registry, the matrix and the manual."""
from __future__ import annotations

import math

HEADER_FILL = "DCE6F1"
TITLE_FILL = "1F4E79"


def write_sheet(wb, title: str, columns: list, rows: list, *, widths: dict | None = None, caption: str | None = None,
                wrap_min: int = 30):
    """Append a sheet: optional caption row, header row, data rows; return the sheet.

    ``columns`` are header texts, ``rows`` lists of cell values (same order)."""
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title=title[:31])
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    r0 = 1
    if caption:
        ws.cell(row=1, column=1, value=caption).font = Font(bold=True, size=13, color="FFFFFF")
        ws.cell(row=1, column=1).fill = PatternFill("solid", fgColor=TITLE_FILL)
        if len(columns) > 1:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(columns))
        ws.row_dimensions[1].height = 22
        r0 = 2
    for j, c in enumerate(columns, 1):
        cell = ws.cell(row=r0, column=j, value=c)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        cell.border = border
    lengths = [len(str(c)) for c in columns]
    for i, row in enumerate(rows, r0 + 1):
        for j, v in enumerate(row, 1):
            if v is not None and isinstance(v, float) and math.isnan(v):
                v = None
            cell = ws.cell(row=i, column=j, value=v)
            cell.border = border
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if v is not None:
                lengths[j - 1] = max(lengths[j - 1], min(len(str(v)), 60))
    for j, n in enumerate(lengths, 1):
        w = (widths or {}).get(columns[j - 1]) or max(8, min(n * 1.6 + 2, wrap_min * 1.6))
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.freeze_panes = ws.cell(row=r0 + 1, column=1)
    ws.print_title_rows = f"{r0}:{r0}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.oddFooter.center.text = "&P / &N"
    if rows:
        ws.auto_filter.ref = f"A{r0}:{get_column_letter(len(columns))}{r0 + len(rows)}"
    return ws


def new_workbook():
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    return wb


def save_atomic(wb, path) -> None:
    """Save beside the target and rename into place, every formula-like text cell made plain text
    (:func:`surveytools.tabular.save_workbook`)."""
    from ..tabular import save_workbook

    save_workbook(wb, path)
