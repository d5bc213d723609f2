#!/usr/bin/env python3
"""Benchmark: the case-system release of 1,000,000 components to GeoPackage and to PostGIS.

Set-up (not timed): ``surveytools.sample.synthetic.synthetic_city`` with N point components (default
1,000,000) and 10,000 unit grids, written into a gbt30428 project with communities and streets
dissolved from the grids, every component located (BGID, StreetCode, CommCode), the sample department
registry and the profile's dispatch matrix (``responsibility assign`` is timed too, as information).

Timed, each as the whole CLI command in a child process under ``/usr/bin/time -v`` (wall time, peak
resident memory), pinned to 2 cores (``taskset -c 0,1``):

* ``surveytools responsibility assign PROJECT``            (information; no target)
* ``surveytools export db PROJECT --to OUT.gpkg``           target ≤ 20 s
* ``surveytools export db PROJECT --to postgresql://…``     target ≤ 60 s (needs SURVEYTOOLS_PG_URL:
  ``source scripts/pg_start.sh`` in the shell first)

Usage: python benchmarks/bench_export.py [--components N] [--grids N] [--keep DIR]
Writes benchmarks/results/export.json.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")


def build(path: Path, n_components: int, n_grids: int) -> dict:
    import numpy as np

    from surveytools import project as P
    from surveytools.locate import locate
    from surveytools.sample.synthetic import synthetic_city

    t0 = time.perf_counter()
    city = synthetic_city(n_components, n_grids=n_grids)
    P.init(str(path), county="360681", profile="gbt30428", crs="EPSG:4548", overwrite=True,
           title="合成城市（性能测试）")
    proj = P.Project.open(path)
    prof = proj.profile
    f = prof.field
    grids = city.grids
    comms = grids.dissolve(by="community_code", as_index=False)[["community_code", "street_code", "geometry"]]
    comms["community_name"] = "社区" + comms["community_code"].str[-3:]
    comms["street_name"] = "街道" + comms["street_code"].str[-3:]
    comms = comms.rename(columns={"community_code": f("community", "community_code"), "street_code": f("community", "street_code"),
                                  "community_name": f("community", "community_name"), "street_name": f("community", "street_name")})
    streets = grids.dissolve(by="street_code", as_index=False)[["street_code", "geometry"]]
    streets["street_name"] = "街道" + streets["street_code"].str[-3:]
    streets = streets.rename(columns={"street_code": f("street", "street_code"), "street_name": f("street", "street_name")})
    comps = city.components_gdf()
    codes = grids["BGID"].to_numpy(dtype=object)
    idx = locate(comps.geometry.values, grids.geometry.values, codes)
    bgid = np.where(idx >= 0, codes[np.maximum(idx, 0)], None)
    comps[f("component", "grid_code")] = bgid
    comps[f("component", "class_code")] = comps["ObjID"].str[6:10]
    comps[f("component", "street_code")] = [None if b is None else b[:9] for b in bgid]
    comps[f("component", "community_code")] = [None if b is None else b[:12] for b in bgid]
    with proj.transaction() as work:
        P.write_project_layer(work, "unit_grid", grids)
        P.write_project_layer(work, "community", comms)
        P.write_project_layer(work, "street", streets)
        P.write_project_layer(work, "component_point", comps)
    return {"components": int(len(comps)), "grids": int(len(grids)), "communities": int(len(comms)),
            "streets": int(len(streets)), "setup_s": round(time.perf_counter() - t0, 1),
            "project_mb": round(path.stat().st_size / 2**20, 1)}


def timed(args: list) -> dict:
    cmd = [sys.executable, "-m", "surveytools.cli"] + [str(a) for a in args] + ["--json"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0,1"] + cmd
    if os.path.exists("/usr/bin/time"):
        cmd = ["/usr/bin/time", "-v"] + cmd
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    out = json.loads(r.stdout)
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(int(m.group(1)) / 1024, 1) if m else None, "result": out}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--components", type=int, default=1_000_000)
    ap.add_argument("--grids", type=int, default=10_000)
    ap.add_argument("--keep", type=Path)
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="bench-export-"))
    work.mkdir(parents=True, exist_ok=True)
    project = work / "city.gpkg"
    setup = build(project, a.components, a.grids)
    print(f"set-up: {setup}")
    rows = {}
    rows["responsibility assign"] = timed(["responsibility", "assign", project, "--departments",
                                           ROOT / "sample_data/guixi/survey/departments.xlsx"])
    out = work / "release.gpkg"
    rows["export db → GeoPackage"] = timed(["export", "db", project, "--to", out])
    rows["export db → GeoPackage"]["release_mb"] = round(out.stat().st_size / 2**20, 1)
    url = os.environ.get("SURVEYTOOLS_PG_URL")
    if url:
        rows["export db → PostGIS"] = timed(["export", "db", project, "--to", f"{url}?schema=bench_release"])
    else:
        print("SURVEYTOOLS_PG_URL is not set: PostGIS skipped (source scripts/pg_start.sh first)")
    targets = {"export db → GeoPackage": 20.0, "export db → PostGIS": 60.0}
    print(f"\n{'step':<28} {'wall s':>8} {'peak MB':>9} {'target':>8}")
    for k, v in rows.items():
        t = targets.get(k)
        print(f"{k:<28} {v['wall_s']:>8.2f} {v['peak_rss_mb'] or 0:>9.0f} {('≤ %g s' % t) if t else '':>8}")
    res = {"setup": setup, "machine": {"cpus": os.cpu_count(), "pinned": "taskset -c 0,1" if shutil.which("taskset") else None},
           "steps": {k: {kk: vv for kk, vv in v.items() if kk != "result"} | {"tables": v["result"].get("tables")}
                     for k, v in rows.items()},
           "targets_s": targets, "ok": all(rows[k]["wall_s"] <= t for k, t in targets.items() if k in rows)}
    rdir = ROOT / "benchmarks" / "results"
    rdir.mkdir(parents=True, exist_ok=True)
    (rdir / "export.json").write_text(json.dumps(res, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
