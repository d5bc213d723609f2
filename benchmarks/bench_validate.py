#!/usr/bin/env python3
"""Benchmark: the default validation scheme on a synthetic city.

Set-up (not timed): ``surveytools.sample.synthetic.synthetic_city`` with N components (default
1,000,000) and 10,000 unit grids, written into a gbt30428 project (15-digit grid codes, 16-digit
ObjIDs) with communities and streets dissolved from the grids, components located in their grid
(BGID) and a department registry table.

Timed: ``surveytools validate run PROJECT --out DIR --json`` in a child process pinned to 2 cores
(taskset -c 0,1) under ``/usr/bin/time -v``: wall time and peak memory (maximum resident set
size) of the whole command — opening the project, reading every layer, all default steps,
writing errors.gpkg, report.html, report.xlsx and the validation tables into the project.

Usage: python benchmarks/bench_validate.py [--components N] [--grids N] [--keep DIR]
Writes benchmarks/results/validate.json.
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
    import pandas as pd
    import shapely

    from surveytools import project as P
    from surveytools.locate import locate
    from surveytools.sample.departments import departments
    from surveytools.sample.synthetic import synthetic_city

    t0 = time.perf_counter()
    city = synthetic_city(n_components, n_grids=n_grids)
    P.init(str(path), county="360681", profile="gbt30428", crs="EPSG:4548", overwrite=True)
    proj = P.Project.open(path)
    prof = proj.profile
    grids = city.grids
    comms = grids.dissolve(by="community_code", as_index=False)[["community_code", "street_code", "geometry"]]
    comms = comms.rename(columns={"community_code": prof.field("community", "community_code"),
                                  "street_code": prof.field("community", "street_code")})
    comms[prof.field("community", "community_name")] = "社区" + comms[prof.field("community", "community_code")].str[-3:]
    comms[prof.field("community", "street_name")] = "街道"
    streets = grids.dissolve(by="street_code", as_index=False)[["street_code", "geometry"]]
    streets = streets.rename(columns={"street_code": prof.field("street", "street_code")})
    streets[prof.field("street", "street_name")] = "街道" + streets[prof.field("street", "street_code")].str[-3:]
    comps = city.components_gdf()
    codes = grids["BGID"].to_numpy(dtype=object)
    idx = locate(comps.geometry.values, grids.geometry.values, codes)
    comps[prof.field("component", "grid_code")] = np.where(idx >= 0, codes[np.maximum(idx, 0)], None)
    comps[prof.field("component", "class_code")] = comps["ObjID"].str[6:10]
    dep = departments()
    with proj.transaction() as work:
        P.write_project_layer(work, "unit_grid", grids)
        P.write_project_layer(work, "community", comms)
        P.write_project_layer(work, "street", streets)
        P.write_project_layer(work, "component_point", comps)
        P.write_table(work, "departments", pd.DataFrame({"name": dep["DeptName"], "code": dep["DeptCode"],
                                                         "role": dep["Roles"], "parent": dep["ParentCode"],
                                                         "contact": dep["Phone"]}))
    return {"components": int(len(comps)), "grids": int(len(grids)), "communities": int(len(comms)),
            "streets": int(len(streets)), "setup_s": round(time.perf_counter() - t0, 1),
            "project_mb": round(path.stat().st_size / 2**20, 1),
            "grid_area_m2": float(np.median(shapely.area(grids.geometry.values)))}


def timed_run(project: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "surveytools.cli", "validate", "run", str(project), "--out", str(out), "--json"]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0,1"] + cmd
    if os.path.exists("/usr/bin/time"):
        cmd = ["/usr/bin/time", "-v"] + cmd
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    doc = json.loads(p.stdout)
    if doc.get("ok") is False:
        counts = json.loads(doc["error"]["value"])
        steps = []
    else:
        counts = {"verdict": doc["verdict"], **doc["counts"]}
        steps = doc["steps"]
    return {"exit_code": p.returncode, "wall_s": round(wall, 2),
            "peak_rss_mb": round(int(rss.group(1)) / 1024, 1) if rss else None, "counts": counts, "steps": steps}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--components", type=int, default=1_000_000)
    ap.add_argument("--grids", type=int, default=10_000)
    ap.add_argument("--keep", help="folder to keep (and reuse) the synthetic project in")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_validate_"))
    work.mkdir(parents=True, exist_ok=True)
    project = work / f"city_{args.components}_{args.grids}.gpkg"
    info = {}
    if not project.exists():
        info = build(project, args.components, args.grids)
    run = timed_run(project, work / "out")
    if not run["steps"]:  # a FAIL exits 2: read the steps from the project
        import pyogrio

        run["steps"] = pyogrio.read_dataframe(project, layer="validation_steps").to_dict("records")
    result = {"benchmark": "validate default scheme (gbt30428)", "components": args.components, "grids": args.grids,
              "cores": 2, "cpu": _cpu(), "setup": info, **{k: v for k, v in run.items() if k != "steps"},
              "steps": [{"id": s["id"], "outcome": s["outcome"], "errors": int(s["errors"]), "warnings": int(s["warnings"]),
                         "seconds": float(s["seconds"])} for s in run["steps"]],
              "targets": {"wall_s": 60, "peak_rss_mb": 3072}}
    print(f"\nvalidate default scheme: {args.components:,} components, {args.grids:,} grids (2 cores)")
    print(f"{'step':<36}{'outcome':<10}{'rows':>9}{'s':>8}")
    for s in result["steps"]:
        print(f"{s['id']:<36}{s['outcome']:<10}{s['errors'] + s['warnings']:>9}{s['seconds']:>8.2f}")
    print(f"{'total (whole command)':<55}{run['wall_s']:>8.2f} s   peak {run['peak_rss_mb']} MB   "
          f"verdict {run['counts'].get('verdict')}   exit {run['exit_code']}")
    out = ROOT / "benchmarks" / "results" / "validate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


if __name__ == "__main__":
    main()
