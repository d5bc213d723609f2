"""Dates given by users on the command line or in Processing dialogs."""
from __future__ import annotations

import datetime as _dt

from .errors import SurveyError
from .i18n import Text


def parse_date(value, field: str = "date") -> _dt.date:
    """``YYYY-MM-DD`` (or empty for today) as a date; anything else is a clear error."""
    if value is None or str(value).strip() == "":
        return _dt.date.today()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise SurveyError(Text("日期应为 YYYY-MM-DD", "the date must be YYYY-MM-DD"), code="bad_date", field=field,
                          value=value) from None
