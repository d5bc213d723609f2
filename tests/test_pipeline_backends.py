"""The demo pipeline (scripts/demo.sh) on every store backend, compared output by output.

The pipeline — project init, grid divide + code, components intake (4 deliveries) + code + locate,
events intake, geocode build/forward/reverse/rename/batch, project info, responsibility assign +
matrix, grid aggregate, components merge, acceptance plan + record (a filled checklist) + report,
field package + return (QField edits, a conflict with an office edit) + resolve, project history,
validate run, export db (to GeoPackage and, with a server, to PostGIS) / files / manual, grid import
— runs in-process through the CLI
(the commands of scripts/demo.sh and a few more) on the sample district, once on a reference
GeoPackage project and once on the backend under test:

* ``gpkg``: a second, independent GeoPackage run — the two must be identical (catches
  nondeterminism: row order, random IDs, set iteration);
* ``postgis``: a project in a fresh schema of the test PostGIS (``$SURVEYTOOLS_PG_URL``, started by
  scripts/run_tests.sh).

Compared feature by feature: every project layer (rows matched by the layer's standard ID, else
by their whole content; attributes with numbers within 1e-9; geometries normalized and equal
within 1e-9), the validation results (verdict, counts, the error layers), the release GeoPackage and
the PostGIS release schema, the exchange Shapefiles, the command manual, dispatch matrix and
acceptance checklist workbooks, the geocoded CSV, the layer from the edit log (project history) and
the data every command returned.
What legitimately differs between two runs (times, batch IDs, the edit log's times, the project's
own address) is listed in ``VOLATILE`` and left out.
"""
from __future__ import annotations

import decimal
import json
import math
import os
import re
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
B = ROOT / "sample_data/guixi/base.gpkg"
S = ROOT / "sample_data/guixi/survey"
M = ROOT / "sample_data/guixi/mappings"
OSM = ROOT / "sample_data/osm/mapofgx.osm"
PG_URL = os.environ.get("SURVEYTOOLS_PG_URL")
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

#: columns that differ between any two runs by design: (table pattern, column pattern)
VOLATILE = [
    (r".*", r"(?i)^(created|updated|release_time|generated|generated_at|export_time|run_time|batch_time)$"),
    (r".*", r"(?i)^(imported_at|intake_time|time|changed_at|update_time|seconds|秒 s|package_id|uuid)$"),
    (r".*", r"(?i)^(feature_uuid|photo_id)$"),  # QField's random UUIDs (of features and photos)
    (r"edit_log", r".*"),
]
#: keys of key/value metadata tables that name the run (times, paths, the project's address) or are a
#: PostGIS project's own bookkeeping (revision: its commit counter; log_timezone: the zone of its log times)
VOLATILE_KEYS = re.compile(r"(?i)^(created|updated|release_time|source_project|project_path|profile_path|"
                           r"surveytools_version|last_batch|release_id|project_id|generated|revision|"
                           r"log_timezone)$")
#: tables that only exist to keep the run's history (their content is times and batch IDs)
SKIP_TABLES = {"edit_log", "surveytools_session"}


def _pipeline(project: str, out: Path, release_schema: str | None = None) -> dict:
    """The commands of scripts/demo.sh on ``project``, outputs under ``out``; returns each
    command's exit code and JSON data."""
    from click.testing import CliRunner

    from surveytools.cli import build_cli

    app = build_cli()
    out.mkdir(parents=True, exist_ok=True)
    steps = [
        ("project init", ["project", "init", project, "--profile", "cjt", "--county", "360681", "--title",
                          "贵溪市城区数字化城管基础数据（示例）", "--overwrite"]),
        ("grid divide", ["grid", "divide", project, "--communities", f"{B}:communities", "--lines", f"{B}:roads",
                         "--lines", f"{B}:rivers", "--lines", f"{B}:railways", "--lines", f"{B}:water",
                         "--workload", f"{B}:buildings"]),
        ("grid code", ["grid", "code", project, "--keep-existing"]),
        ("components intake a", ["components", "intake", project, f"{S}/components_a.gpkg", "--mapping",
                                 f"{M}/components_a.yaml"]),
        ("components intake b", ["components", "intake", project, f"{S}/components_b_gbk.shp", "--mapping",
                                 f"{M}/components_b_gbk.yaml"]),
        ("components intake c", ["components", "intake", project, f"{S}/components_c.csv", "--mapping",
                                 f"{M}/components_c.yaml"]),
        ("components intake d", ["components", "intake", project, f"{S}/components_d.xlsx", "--coords", "gcj02",
                                 "--mapping", f"{M}/components_d.yaml"]),
        ("components code", ["components", "code", project]),
        ("components locate", ["components", "locate", project]),
        ("events intake", ["events", "intake", project, f"{S}/events.csv", "--mapping", f"{M}/events.yaml"]),
        ("geocode build", ["geocode", "build", project, "--from", f"{S}/doorplates.gpkg", "--from", str(B),
                           "--from", str(OSM)]),
        ("geocode forward", ["geocode", "forward", project, "贵溪市雄石路十二号"]),
        ("geocode reverse", ["geocode", "reverse", project, "519989.0", "3130131.5"]),
        ("geocode rename", ["geocode", "rename", project, "--name", "雄石路", "--new-name", "雄石大道",
                            "--date", "2026-11-01"]),
        ("geocode batch", ["geocode", "batch", project, f"{S}/events.csv", "--column", "Address", "--out",
                           str(out / "geocoded.csv")]),
        ("project info", ["project", "info", project]),
        ("responsibility assign", ["responsibility", "assign", project, "--departments", f"{S}/departments.xlsx"]),
        ("responsibility matrix", ["responsibility", "matrix", project, "--export", str(out / "dispatch_matrix.xlsx")]),
        ("grid aggregate", ["grid", "aggregate", project, "--kind", "work", "--members", f"{B}:communities"]),
        ("components merge", ["components", "merge", project, f"{S}/components_c.csv", "--mapping",
                              f"{M}/components_c.yaml", "--date", "2026-11-20"]),
        ("acceptance plan", ["acceptance", "plan", project, "--rate", "0.05", "--seed", "7", "--out",
                             str(out / "acceptance")]),
        ("acceptance fill", _fill_checklist),
        ("acceptance record", ["acceptance", "record", project, str(out / "acceptance" / "filled.xlsx")]),
        ("acceptance report", ["acceptance", "report", project, "--out", str(out / "acceptance_report")]),
        ("field package", _field_package),
        ("field edits", _field_edits),
        ("field return", ["field", "return", project, str(out / "field" / FIELD_AREA), "--date", "2026-11-21"]),
        ("field resolve", ["field", "resolve", project, "--conflict", "1", "--keep", "field"]),
        ("project history", ["project", "history", project, "--at", "2100-01-01", "--out", str(out / "history.gpkg")]),
        ("validate", ["validate", project, "--out", str(out / "qc")]),
        ("export db", ["export", "db", project, "--to", str(out / "release.gpkg")]),
        ("export files", ["export", "files", project, "--format", "shp", "--out", str(out / "exchange_shp")]),
        ("export manual", ["export", "manual", project, "--out", str(out / "manual"), "--formats", "xlsx"]),
        # the release's coded unit grids imported again over the project's (checked against the profile)
        ("grid import", ["grid", "import", project, f"{out / 'release.gpkg'}:unit_grids", "--overwrite", "--date",
                         "2026-11-25"]),
    ]
    if release_schema:  # publishing to PostGIS from either backend
        steps.append(("export db postgis", ["export", "db", project, "--to", f"{PG_URL}?schema={release_schema}"]))
    runner = CliRunner()
    results = {}
    for name, args in steps:
        if callable(args):  # a step of its own (a user's hands: filling a checklist, editing in QField)
            try:
                args = args(project, out)
            except Exception:
                import traceback

                results[name] = {"exit": 1, "stdout": "", "stderr": traceback.format_exc()}
                continue
            if args is None:
                results[name] = {"exit": 0, "stdout": "", "stderr": ""}
                continue
        res = runner.invoke(app, [*[str(a) for a in args], "--json"], catch_exceptions=False)
        results[name] = {"exit": res.exit_code, "stdout": res.stdout, "stderr": res.stderr}
    return results


#: the work area (community) of the field package
FIELD_AREA = "360681003001"


def _fill_checklist(project: str, out: Path) -> None:
    """The checker's hands: the first twelve sampled components get a result (each kind, offsets in
    metres) and one omission is added; saved as acceptance/filled.xlsx."""
    from openpyxl import load_workbook

    wb = load_workbook(out / "acceptance" / "checklist.xlsx")
    ws = wb["检查记录"]
    head = [c.value for c in ws[1]]
    results = ["正确", "属性错误", "位置错误", "多余"]
    first = None
    for k, r in enumerate(range(2, min(ws.max_row, 13) + 1)):
        ws.cell(row=r, column=2, value=results[k % 4])
        ws.cell(row=r, column=3, value=None if results[k % 4] == "多余" else round(0.15 * k, 2))  # not there
        ws.cell(row=r, column=4, value=f"检查 {k}").data_type = "s"
        first = first or {h: ws.cell(row=r, column=i + 1).value for i, h in enumerate(head)}
    wb["遗漏部件"].append([first["类别代码"], float(first["X"]) + 3.0, float(first["Y"]) + 3.0, "漏采"])
    wb.save(out / "acceptance" / "filled.xlsx")


def _field_package(project: str, out: Path) -> list:
    (out / "field").mkdir()
    return ["field", "package", project, "--by", "community", "--areas", FIELD_AREA, "--out", str(out / "field"),
            "--surveyor", "张三", "--no-qgz"]


def _field_edits(project: str, out: Path) -> None:
    """What a surveyor does in QField (a new component with a photo, an attribute edit, a move, a
    delete, an edit the office changed meanwhile), chosen by ID so that both runs make the same
    edits; and the office's edit of that component in the project (through the store)."""
    import shapely
    from field_support import add_photo, connect, delete, from_blob, insert_feature, move, rows, update

    from surveytools import store
    from surveytools.project import Project

    folder = out / "field" / FIELD_AREA
    feats = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["layers"]["component_point"]["features"]
    con = connect(folder / "survey.gpkg")
    packaged = [r for r in rows(con, "components_point") if r["uuid"] in feats]
    counts: dict = {}
    for r in packaged:
        counts[r["ObjID"]] = counts.get(r["ObjID"], 0) + 1
    uu = [r["uuid"] for r in sorted(packaged, key=lambda r: r["ObjID"] or "")
          if r["ObjState"] == "完好" and r["ObjID"] and counts[r["ObjID"]] == 1]
    grid = sorted(rows(con, "unit_grids"), key=lambda g: g["BGID"])[0]
    at = shapely.point_on_surface(from_blob(grid["geom"]))
    new = insert_feature(con, "components_point", {"ClassCode": "0103", "ObjState": "完好", "surveyor": "李四",
                                                   "gnss_hacc": 0.03, "gnss_quality": "RTK fixed"}, at)
    update(con, "components_point", uu[0], ObjState="破损", Note="盖板裂开", surveyor="李四")
    move(con, "components_point", uu[1], 2.0, -1.0)
    delete(con, "components_point", uu[2])
    update(con, "components_point", uu[3], Note="外业备注")
    add_photo(con, folder, new, "component_point", "IMG_0001.jpg", bearing=135.5)
    con.close()
    proj = Project.open(project)
    with proj.transaction() as w:
        store.update_rows(w, proj.table("component_point"), "ObjID", [{"ObjID": feats[uu[3]]["id"], "Note": "内业备注"}])


def _volatile(table: str, column: str) -> bool:
    return any(re.fullmatch(t, table) and re.fullmatch(c, column) for t, c in VOLATILE)


def _value(v):
    """One cell as a comparable Python value: no NaN/NaT, dates as ISO text, numbers as float."""
    import datetime as dt

    import numpy as np
    import pandas as pd

    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NaT or (isinstance(v, (pd.Timestamp, np.datetime64)) and pd.isna(v)):
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        ts = pd.Timestamp(v)
        return ts.isoformat() if ts.time() != dt.time(0) else ts.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (bool, np.bool_)):
        return float(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def _cell(v, norm):
    v = _value(v)
    return norm(v) if isinstance(v, str) else v


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    return a == b


def _geoms_equal(a, b) -> bool:
    import shapely

    if a is None or b is None:
        return a is None and b is None
    if a.is_empty or b.is_empty:
        return a.is_empty and b.is_empty
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=1e-9))


#: keys of the commands' JSON data that differ between any two runs (durations, random release IDs)
#: and the store's own bookkeeping ("revision": a PostGIS project's commit counter, for caches)
#: and random identifiers (a field package's UUIDs)
VOLATILE_DATA = {"timings", "seconds", "release_id", "elapsed", "revision", "package_id", "uuid", "project_id",
                 "log_timezone"}


def _drop_volatile(data):
    if isinstance(data, dict):
        return {k: _drop_volatile(v) for k, v in data.items() if k not in VOLATILE_DATA}
    if isinstance(data, list):
        return [_drop_volatile(v) for v in data]
    return data


def _frame(df, table: str, norm=str):
    """(rows: list of dict of comparable values, geometries or None) of a layer, volatile columns out."""
    import geopandas as gpd
    import numpy as np

    geoms = None
    if isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns:
        geoms = list(np.asarray(df.geometry.values, dtype=object))
        df = df.drop(columns=df.geometry.name)
    cols = [c for c in df.columns if not _volatile(table, str(c))]
    rows = [{c: _cell(v, norm) for c, v in zip(cols, r)} for r in df[cols].itertuples(index=False, name=None)]
    if table in ("surveytools_meta", "release_meta", "surveytools_release") and cols and "key" in cols:
        rows = [r for r in rows if not VOLATILE_KEYS.match(str(r.get("key")))]
    return rows, geoms


def _attribute_columns(df, table: str) -> set:
    gname = getattr(getattr(df, "geometry", None), "name", None) if hasattr(df, "crs") else None
    return {c for c in df.columns if c != gname and not _volatile(table, str(c))}


def _key_column(rows, prefer) -> str | None:
    for c in prefer:
        if rows and c in rows[0]:
            vals = [r[c] for r in rows]
            if None not in vals and len(set(vals)) == len(vals):
                return c
    return None


ID_FIELDS = ("ObjID", "EventID", "BGID", "AddrCode", "CommCode", "StreetCode", "code", "rule", "key", "DeptCode",
             "dept_id", "ClassCode", "name", "conflict_id", "area_code")


def compare_layer(where: str, table: str, ref, got, norms=(str, str)) -> list:
    """Differences between two readings of one layer (``ref``, ``got``: DataFrames; ``norms``:
    what makes their text cells comparable, e.g. the run's folder replaced)."""
    import shapely

    r_rows, r_geo = _frame(ref, table, norms[0])
    g_rows, g_geo = _frame(got, table, norms[1])
    diffs = []
    if len(r_rows) != len(g_rows):
        diffs.append(f"{where}:{table}: {len(r_rows)} rows in the reference, {len(g_rows)} here")
    r_cols = set(r_rows[0]) if r_rows else _attribute_columns(ref, table)
    g_cols = set(g_rows[0]) if g_rows else _attribute_columns(got, table)
    if r_cols != g_cols:
        diffs.append(f"{where}:{table}: columns differ: only in the reference {sorted(r_cols - g_cols)}, "
                     f"only here {sorted(g_cols - r_cols)}")
    cols = sorted(r_cols & g_cols)
    if (r_geo is None) != (g_geo is None):
        diffs.append(f"{where}:{table}: geometry in only one of them")
        r_geo = g_geo = None

    def wkb(g):
        if g is None:
            return ""
        return shapely.to_wkb(shapely.normalize(g), rounding_precision=6, hex=True) if hasattr(shapely, "to_wkb") else ""

    def sort_key(i, rows, geos):
        return (json.dumps([rows[i].get(c) for c in cols], ensure_ascii=False, default=str),
                "" if geos is None else str(shapely.to_wkt(geos[i], rounding_precision=6) if geos[i] is not None else ""))

    key = _key_column(r_rows, ID_FIELDS)
    if key is not None and key in g_cols:
        r_idx = {r[key]: i for i, r in enumerate(r_rows)}
        g_idx = {}
        for i, r in enumerate(g_rows):
            g_idx.setdefault(r[key], i)
        missing = sorted(set(r_idx) - set(g_idx), key=str)
        extra = sorted(set(g_idx) - set(r_idx), key=str)
        if missing:
            diffs.append(f"{where}:{table}: {len(missing)} {key} missing here, e.g. {missing[:3]}")
        if extra:
            diffs.append(f"{where}:{table}: {len(extra)} {key} only here, e.g. {extra[:3]}")
        pairs = [(r_idx[k], g_idx[k], f"{key}={k}") for k in r_idx if k in g_idx]
    else:
        ri = sorted(range(len(r_rows)), key=lambda i: sort_key(i, r_rows, r_geo))
        gi = sorted(range(len(g_rows)), key=lambda i: sort_key(i, g_rows, g_geo))
        pairs = [(a, b, f"row {n}") for n, (a, b) in enumerate(zip(ri, gi))]
    shown = 0
    for a, b, label in pairs:
        bad = [c for c in cols if not _same(r_rows[a].get(c), g_rows[b].get(c))]
        if r_geo is not None and not _geoms_equal(r_geo[a], g_geo[b]):
            bad.append("geometry")
        if bad:
            shown += 1
            if shown <= 5:
                detail = ", ".join(f"{c}: {r_rows[a].get(c)!r} != {g_rows[b].get(c)!r}" for c in bad if c != "geometry")
                diffs.append(f"{where}:{table}: {label} differs in {bad} ({detail})")
    if shown > 5:
        diffs.append(f"{where}:{table}: ... {shown} rows differ in all")
    return diffs


def _read_all(source: str, reader) -> dict:
    return {name: reader(name) for name in sorted(_list(source))}


def _list(source: str) -> list:
    from surveytools import store

    return [n for n in store.list_layers(source) if n not in SKIP_TABLES and not n.startswith(("rtree_", "gpkg_"))]


def _read_store(source: str, name: str):
    from surveytools import store

    return store.read_dataframe(source, name)


def compare_sources(where: str, ref: str, got: str, norms=(str, str)) -> list:
    """Every layer of two projects or GeoPackages (read through the store)."""
    r_names, g_names = set(_list(ref)), set(_list(got))
    diffs = []
    if r_names != g_names:
        diffs.append(f"{where}: layers only in the reference {sorted(r_names - g_names)}, "
                     f"only here {sorted(g_names - r_names)}")
    for name in sorted(r_names & g_names):
        diffs += compare_layer(where, name, _read_store(ref, name), _read_store(got, name), norms)
    return diffs


def _normalize_text(text: str, run: dict) -> str:
    if run.get("release"):
        text = text.replace(run["release"], "<RELEASE>")
    text = text.replace(run["project"], "<PROJECT>").replace(str(run["out"]), "<OUT>").replace(str(ROOT), "<ROOT>")
    # the photo folder is named after the project: the GeoPackage's file name, a PostGIS project's schema
    text = text.replace(f"{_project_name(run['project'])}_photos", "<NAME>_photos")
    text = re.sub(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?", "<TIME>", text)
    text = re.sub(r"\b([A-Z])20\d{6}-(\d{3})\b", r"\1<DATE>-\2", text)  # batch IDs: I20261128-001
    # the metadata's row count: a PostGIS project keeps more rows ("revision", "log_timezone"); the
    # metadata itself is compared key by key
    text = re.sub(r"(surveytools_meta\s+)\d+", r"\1<N>", text)
    text = re.sub(r'("surveytools_meta": \{\s*"features": )\d+', r"\g<1>0", text)
    text = re.sub(r"\d+(\.\d+)? ?(s|秒)\b", "<SECONDS>", text)
    return text


def _project_name(project: str) -> str:
    from surveytools.store import project_name

    return project_name(project)


def _json_data(step: dict, run: dict):
    try:
        return _drop_volatile(json.loads(_normalize_text(step["stdout"], run)))
    except ValueError:
        return _normalize_text(step["stdout"], run)


def _first_difference(a, b, where: str = "") -> str:
    """Where two JSON values first differ, and how."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{where or '/'}: keys only in the reference {sorted(set(a) - set(b))}, only here {sorted(set(b) - set(a))}"
        for k in a:
            if a[k] != b[k]:
                return _first_difference(a[k], b[k], f"{where}/{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    if isinstance(a, str) and isinstance(b, str):
        la, lb = a.splitlines(), b.splitlines()
        n = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
        return f"{where}: line {n + 1}: {la[n] if n < len(la) else None!r} != {lb[n] if n < len(lb) else None!r}"
    return f"{where}: {str(a)[:300]!r} != {str(b)[:300]!r}"


def compare_runs(ref: dict, got: dict) -> list:
    import pyogrio

    diffs = []
    for name, r in ref["steps"].items():
        g = got["steps"][name]
        if r["exit"] != g["exit"]:
            diffs.append(f"{name}: exit {r['exit']} in the reference, {g['exit']} here: {g['stderr'][-2000:]}")
            continue
        rd, gd = _json_data(r, ref), _json_data(g, got)
        if rd != gd:
            diffs.append(f"{name}: the command's output differs: {_first_difference(rd, gd)}")
    norms = (lambda t: _normalize_text(t, ref), lambda t: _normalize_text(t, got))
    diffs += compare_sources("project", ref["project"], got["project"], norms)
    for rel in ("release.gpkg", "qc/errors.gpkg", "history.gpkg"):
        diffs += compare_sources(rel, str(ref["out"] / rel), str(got["out"] / rel), norms)
    shp_r = sorted(p.name for p in (ref["out"] / "exchange_shp").rglob("*.shp"))
    shp_g = sorted(p.name for p in (got["out"] / "exchange_shp").rglob("*.shp"))
    if shp_r != shp_g:
        diffs.append(f"exchange_shp: files {shp_r} != {shp_g}")
    for n in sorted(set(shp_r) & set(shp_g)):
        rp = next((ref["out"] / "exchange_shp").rglob(n))
        gp = next((got["out"] / "exchange_shp").rglob(n))
        diffs += compare_layer("exchange_shp", n, pyogrio.read_dataframe(rp, encoding="GBK"),
                               pyogrio.read_dataframe(gp, encoding="GBK"), norms)
    for name in ("geocoded.csv",):
        a, b = ref["out"] / name, got["out"] / name
        if not (a.exists() and b.exists()) or _normalize_text(a.read_text(encoding="utf-8-sig"), ref) != \
                _normalize_text(b.read_text(encoding="utf-8-sig"), got):
            diffs.append(f"{name}: differs (or is missing)")
    if ref.get("release") and got.get("release"):
        r_rel, g_rel = _read_pg_schema(ref["release"]), _read_pg_schema(got["release"])
        if set(r_rel) != set(g_rel):
            diffs.append(f"PostGIS release: tables {sorted(r_rel)} != {sorted(g_rel)}")
        for name in sorted(set(r_rel) & set(g_rel)):
            diffs += compare_layer("PostGIS release", name, r_rel[name], g_rel[name], norms)
    for book in ("qc/report.xlsx", "manual/manual.xlsx", "dispatch_matrix.xlsx", "acceptance/checklist.xlsx",
                 "acceptance_report/report.xlsx"):
        diffs += _compare_workbook(book, ref["out"] / book, got["out"] / book, ref, got)
    return diffs


def _read_pg_schema(schema: str) -> dict:
    """Every table of a PostGIS schema (a release) as (Geo)DataFrames, geometries from WKB."""
    import geopandas as gpd
    import pandas as pd
    import psycopg
    import shapely

    out = {}
    with psycopg.connect(PG_URL) as con:
        cur = con.cursor()
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
        names = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT f_table_name, f_geometry_column FROM geometry_columns WHERE f_table_schema = %s", (schema,))
        geo = dict(cur.fetchall())
        for name in names:
            cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                        "ORDER BY ordinal_position", (schema, name))
            cols = [r[0] for r in cur.fetchall()]
            sel = ", ".join(f'ST_AsBinary("{c}")' if c == geo.get(name) else f'"{c}"' for c in cols)
            cur.execute(f'SELECT {sel} FROM "{schema}"."{name}"')
            df = pd.DataFrame(cur.fetchall(), columns=cols)
            g = geo.get(name)
            if g:
                geoms = shapely.from_wkb([None if v is None else bytes(v) for v in df[g]])
                df = gpd.GeoDataFrame(df.drop(columns=g), geometry=geoms)
            out[name] = df
    return out


def _compare_workbook(where: str, a: Path, b: Path, ref: dict, got: dict) -> list:
    import pandas as pd

    if not a.exists() or not b.exists():
        return [f"{where}: exists in the reference: {a.exists()}, here: {b.exists()}"]
    ra = pd.read_excel(a, sheet_name=None, dtype=str, header=None)
    rb = pd.read_excel(b, sheet_name=None, dtype=str, header=None)
    diffs = []
    if list(ra) != list(rb):
        return [f"{where}: sheets {list(ra)} != {list(rb)}"]
    def cells(df, run):
        rows = df.fillna("").values.tolist()
        keep = [i for i, h in enumerate(rows[0] if rows else []) if not _volatile(sheet, str(h))]
        return [[_normalize_text(str(row[i]), run) for i in keep] for row in rows]

    for sheet in ra:
        va, vb = cells(ra[sheet], ref), cells(rb[sheet], got)
        if va != vb:
            n = next((i for i, (x, y) in enumerate(zip(va, vb)) if x != y), min(len(va), len(vb)))
            diffs.append(f"{where}[{sheet}]: differs from row {n + 1}: "
                         f"{va[n] if n < len(va) else None} != {vb[n] if n < len(vb) else None}")
    return diffs


# ------------------------------------------------------------------------------------------------

_RUNS: dict = {}


def _run(backend: str, tmp_root: Path, label: str) -> dict:
    if label in _RUNS:
        return _RUNS[label]
    out = tmp_root / label
    if backend == "gpkg":
        project = str(out / "guixi.gpkg")
        out.mkdir(parents=True)
    else:
        project = f"{PG_URL}?schema=st_pipe_{uuid.uuid4().hex[:8]}"
    release = f"st_rel_{uuid.uuid4().hex[:8]}" if PG_URL else None
    _RUNS[label] = {"backend": backend, "project": project, "out": out, "release": release}
    from surveytools.store import FOLDER_ENV

    old = os.environ.get(FOLDER_ENV)
    os.environ[FOLDER_ENV] = str(out / "side")  # a PostGIS project's photo folder: in the run's folder
    try:
        _RUNS[label]["steps"] = _pipeline(project, out, release)
    finally:
        if old is None:
            os.environ.pop(FOLDER_ENV, None)
        else:
            os.environ[FOLDER_ENV] = old
    return _RUNS[label]


@pytest.fixture(scope="module")
def tmp_root(tmp_path_factory):
    yield tmp_path_factory.mktemp("pipeline")
    for run in list(_RUNS.values()):
        if run["backend"] == "postgis":
            _drop_schema(run["project"].rsplit("schema=", 1)[1])
        if run.get("release"):
            _drop_schema(run["release"])
    _RUNS.clear()


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if con.execute("SELECT to_regclass('public.layer_styles')").fetchone()[0]:
            con.execute("DELETE FROM public.layer_styles WHERE f_table_schema = %s", (schema,))


def _postgis_projects_supported() -> bool:
    """False while the store refuses a PostGIS project (the backend is not on this branch)."""
    from surveytools import store
    from surveytools.errors import SurveyError

    try:
        store.open_project(f"{PG_URL}?schema=st_pipe_probe_absent")
    except SurveyError as e:
        return e.code != "postgis_project"
    except Exception:
        return True
    return True


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_the_demo_pipeline_gives_the_same_outputs_on_every_backend(backend, tmp_root):
    if backend == "postgis":
        if not PG_URL:
            if CI:
                pytest.fail("CI: SURVEYTOOLS_PG_URL is not set, the PostGIS comparison cannot run")
            pytest.skip("SURVEYTOOLS_PG_URL is not set (no PostGIS server)")
        if not _postgis_projects_supported():
            pytest.xfail("the store does not open PostGIS projects on this branch yet")
    ref = _run("gpkg", tmp_root, "reference")
    failed = {n: s for n, s in ref["steps"].items() if s["exit"] not in (0, 2) or (s["exit"] == 2 and n != "validate")}
    assert not failed, f"the reference run failed: { {n: s['stderr'][-1500:] for n, s in failed.items()} }"
    got = _run(backend, tmp_root, backend)
    diffs = compare_runs(ref, got)
    assert not diffs, f"{backend} differs from the reference GeoPackage run:\n" + "\n".join(diffs[:60])


def test_the_comparison_sees_a_changed_attribute_and_a_moved_geometry():
    import geopandas as gpd
    from shapely.geometry import Point

    a = gpd.GeoDataFrame({"ObjID": ["1", "2"], "ObjName": ["路灯", "井盖"]}, geometry=[Point(0, 0), Point(1, 1)])
    b = a.copy()
    assert compare_layer("t", "components_point", a, b.iloc[::-1]) == []
    b.loc[1, "ObjName"] = "路灯"
    b.loc[0, "geometry"] = Point(0, 1e-6)
    d = compare_layer("t", "components_point", a, b)
    assert any("ObjID=2" in x and "ObjName" in x for x in d) and any("ObjID=1" in x and "geometry" in x for x in d)
    assert compare_layer("t", "components_point", a, b.iloc[:1])


def test_a_postgis_project_keeps_its_side_files_in_the_folder_given_at_init(tmp_path, cli):
    from surveytools import store
    from surveytools.field.photos import photo_folder

    rc, _, err = cli(["project", "init", tmp_path / "p.gpkg", "--county", "360681", "--folder", tmp_path / "side"])
    assert rc == 2 and "--folder" in err and not (tmp_path / "p.gpkg").exists()
    if not PG_URL:
        if CI:
            pytest.fail("CI: SURVEYTOOLS_PG_URL is not set")
        pytest.skip("SURVEYTOOLS_PG_URL is not set (no PostGIS server)")
    schema = f"st_folder_{uuid.uuid4().hex[:8]}"
    uri = f"{PG_URL}?schema={schema}"
    try:
        rc, _, err = cli(["project", "init", uri, "--county", "360681", "--folder", tmp_path / "share"])
        assert rc == 0, err
        proj = store.open_project(uri)
        assert store.project_folder(proj) == tmp_path / "share" and (tmp_path / "share").is_dir()
        assert photo_folder(proj) == tmp_path / "share" / f"{schema}_photos"
    finally:
        _drop_schema(schema)
