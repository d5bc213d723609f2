"""Departments (部门) of the 贵溪市 sample with roles and valid 统一社会信用代码.

The names are realistic for a county-level city (the usual bureaus, utilities and the four
street offices); the credit codes are **generated** (valid check digits, not the real codes of
those organisations).

统一社会信用代码 (GB 32100-2015), 18 characters:
  1   登记管理部门码 (1 机构编制, 5 民政, 9 工商 …)
  2   机构类别码 (for 机构编制: 1 机关, 2 事业单位; for 工商: 1 企业 …)
  3–8 登记管理机关行政区划码 (here 360681)
  9–17 主体标识码 = 组织机构代码 (GB 11714-1997: 8 body characters + its own check character)
  18  校验码 over characters 1–17 (weights 3^i mod 31, alphabet without I O Z S V)
"""
from __future__ import annotations

import hashlib

import pandas as pd

from ..uscc import ORG_WEIGHTS, USCC_ALPHABET, USCC_WEIGHTS, is_valid_uscc, org_code_check_char, uscc_check_char  # noqa: F401 (moved to surveytools.uscc)


def make_uscc(kind: str, region: str, name: str) -> str:
    """A deterministic, valid 统一社会信用代码 for ``name`` (kind: 11 机关, 12 事业单位, 91 企业)."""
    h = int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16)
    body = f"{h % 10**8:08d}"
    # organisation codes must not use I/O/Z/S/V either (not in the USCC alphabet)
    org = body + org_code_check_char(body)
    if org[-1] not in USCC_ALPHABET:
        org = org[:-1] + "0"  # unreachable: check chars are 0-9 or X
    code17 = f"{kind}{region}{org}"
    return code17 + uscc_check_char(code17)


#: (code, name, kind, roles, parent code, phone)
_DEPTS = [
    ("GX001", "贵溪市人民政府", "11", "主管", "", "0701-3322000"),
    ("GX010", "贵溪市城市管理局", "11", "主管/处置", "GX001", "0701-3312345"),
    ("GX011", "贵溪市环境卫生管理所", "12", "养护/处置", "GX010", "0701-3312388"),
    ("GX012", "贵溪市路灯管理所", "12", "权属/养护", "GX010", "0701-3312366"),
    ("GX013", "贵溪市城市管理综合行政执法大队", "12", "处置", "GX010", "0701-3312399"),
    ("GX020", "贵溪市住房和城乡建设局", "11", "主管/权属", "GX001", "0701-3321456"),
    ("GX021", "贵溪市市政工程管理处", "12", "养护/处置", "GX020", "0701-3321478"),
    ("GX022", "贵溪市园林绿化管理所", "12", "权属/养护", "GX020", "0701-3321490"),
    ("GX030", "贵溪市交通运输局", "11", "主管", "GX001", "0701-3335678"),
    ("GX031", "贵溪市公共交通有限公司", "91", "权属/养护", "GX030", "0701-3335600"),
    ("GX040", "贵溪市公安局交通管理大队", "11", "主管/权属/养护", "GX001", "0701-3345110"),
    ("GX041", "贵溪市消防救援大队", "11", "主管", "GX001", "0701-3346119"),
    ("GX050", "贵溪市民政局", "11", "主管", "GX001", "0701-3351234"),
    ("GX060", "贵溪市自来水有限责任公司", "91", "权属/养护/处置", "", "0701-3362345"),
    ("GX061", "国网江西省电力有限公司贵溪市供电分公司", "91", "权属/养护/处置", "", "0701-95598"),
    ("GX062", "中国电信股份有限公司贵溪分公司", "91", "权属/养护/处置", "", "0701-10000"),
    ("GX063", "中国移动通信集团江西有限公司贵溪分公司", "91", "权属/养护/处置", "", "0701-10086"),
    ("GX064", "贵溪市天然气有限公司", "91", "权属/养护/处置", "", "0701-3367890"),
    ("GX065", "中国邮政集团有限公司贵溪市分公司", "91", "权属/养护", "", "0701-11185"),
    ("GX101", "贵溪市花园街道办事处", "11", "处置", "GX001", "0701-3371001"),
    ("GX102", "贵溪市雄石街道办事处", "11", "处置", "GX001", "0701-3371002"),
    ("GX103", "贵溪市东门街道办事处", "11", "处置", "GX001", "0701-3371003"),
    ("GX104", "贵溪市江北街道办事处", "11", "处置", "GX001", "0701-3371004"),
]

#: street code -> department code of its street office
STREET_OFFICE = {"360681001": "GX101", "360681002": "GX102", "360681003": "GX103", "360681004": "GX104"}


def departments(county: str = "360681") -> pd.DataFrame:
    rows = []
    names = {d[0]: d[1] for d in _DEPTS}
    for code, name, kind, roles, parent, phone in _DEPTS:
        rows.append({"DeptCode": code, "DeptName": name, "Roles": roles, "ParentCode": parent,
                     "ParentName": names.get(parent, ""), "USCC": make_uscc(kind, county, name),
                     "Contact": "值班室", "Phone": phone,
                     "Address": "江西省鹰潭市贵溪市"})
    return pd.DataFrame(rows)


def dept_name(code: str) -> str:
    return {d[0]: d[1] for d in _DEPTS}[code]
