"""统一社会信用代码 (unified social credit code, GB 32100-2015) and 组织机构代码 (GB 11714-1997).

统一社会信用代码, 18 characters:
  1   登记管理部门码 (1 机构编制, 5 民政, 9 工商 …)
  2   机构类别码 (for 机构编制: 1 机关, 2 事业单位; for 工商: 1 企业 …)
  3–8 登记管理机关行政区划码
  9–17 主体标识码 = 组织机构代码 (GB 11714-1997: 8 body characters + its own check character)
  18  校验码 over characters 1–17 (weights 3^i mod 31, alphabet without I O Z S V)

:func:`is_valid_uscc` checks one code; :func:`uscc_valid` checks a whole array at once (numpy).
"""
from __future__ import annotations

import numpy as np

from .errors import SurveyError
from .i18n import Text

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def _org_value(ch: str) -> int:
    if ch.isdigit():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - 55
    raise ValueError(ch)


def org_code_check_char(body8: str) -> str:
    """GB 11714-1997 check character of an 8-character organisation code body."""
    body8 = body8.upper()
    if len(body8) != 8:
        raise SurveyError(Text("组织机构代码本体应为 8 位。", "An organisation code body has 8 characters."),
                          value=body8)
    try:
        s = sum(_org_value(c) * w for c, w in zip(body8, ORG_WEIGHTS))
    except ValueError:
        raise SurveyError(Text("组织机构代码含非法字符。", "Invalid character in organisation code."),
                          value=body8) from None
    c = 11 - s % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def uscc_check_char(code17: str) -> str:
    """GB 32100-2015 check character for the first 17 characters of a 统一社会信用代码."""
    code17 = code17.upper()
    if len(code17) != 17 or any(c not in USCC_ALPHABET for c in code17):
        raise SurveyError(Text("统一社会信用代码前 17 位无效。", "Invalid first 17 characters of a unified social credit code."),
                          value=code17)
    s = sum(USCC_ALPHABET.index(c) * w for c, w in zip(code17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - s % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    if not isinstance(code, str) or len(code) != 18:
        return False
    code = code.upper()
    try:
        if uscc_check_char(code[:17]) != code[17]:
            return False
        return org_code_check_char(code[8:16]) == code[16]
    except SurveyError:
        return False


# lookup tables: code point -> value (-1 = not allowed)
_USCC_VAL = np.full(128, -1, dtype=np.int64)
for _i, _c in enumerate(USCC_ALPHABET):
    _USCC_VAL[ord(_c)] = _i
_ORG_VAL = np.full(128, -1, dtype=np.int64)
for _c in "0123456789":
    _ORG_VAL[ord(_c)] = int(_c)
for _c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _ORG_VAL[ord(_c)] = ord(_c) - 55


def uscc_valid(codes) -> np.ndarray:
    """Vectorised :func:`is_valid_uscc` over an array of strings (upper-cased first): True where the
    code has 18 characters of the alphabet and both check characters (GB 32100 and the embedded
    GB 11714 organisation code) are right."""
    arr = np.array(["" if not isinstance(c, str) else c.upper() for c in codes], dtype=object)
    n = len(arr)
    out = np.zeros(n, dtype=bool)
    if n == 0:
        return out
    lens = np.fromiter((len(s) for s in arr), dtype=np.int64, count=n)
    idx = np.flatnonzero(lens == 18)
    if len(idx) == 0:
        return out
    m = np.asarray(arr[idx].astype("U18")).view(np.uint32).reshape(len(idx), 18).astype(np.int64)
    m = np.where(m < 128, m, 0)
    v = _USCC_VAL[m]
    ok = (v >= 0).all(axis=1)
    s = (v[:, :17] * np.asarray(USCC_WEIGHTS)).sum(axis=1)
    chk = (31 - s % 31) % 31
    ok &= v[:, 17] == chk
    ov = _ORG_VAL[m[:, 8:16]]
    ok &= (ov >= 0).all(axis=1)
    so = (ov * np.asarray(ORG_WEIGHTS)).sum(axis=1)
    c = 11 - so % 11
    expect = np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), 48 + c))
    ok &= m[:, 16] == expect
    out[idx] = ok
    return out
