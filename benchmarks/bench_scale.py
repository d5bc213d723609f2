#!/usr/bin/env python3
"""Benchmark: a city of 10,000,000 components (issue 12, point 7).

Set-up (not timed, cached under ``~/.cache/surveytools/bench/components-N-G``): the synthetic city of
``bench_components.build`` with N point components and G unit grids, and a gbt30428 project
holding the grids, communities and streets.  Generating 10M takes about 3 minutes; the inputs are
kept between runs.

Timed, each the whole CLI command in a fresh process pinned to 2 cores (``taskset -c 0,1``) under
``/usr/bin/time -v``; peak memory is the sum of the resident set sizes of the process tree (the
command and its writer process) sampled every 20 ms, and ``/usr/bin/time``'s maximum RSS of the
largest single process:

* ``components intake PROJECT city.gpkg:components`` (code + locate; target: within 4 GB);
* ``validate run PROJECT`` on the project that intake wrote (target: within 5 minutes); with
  ``--checkpoints N`` also the position accuracy check against N check points (components spread
  over the layer, 0.5 m off, every tenth 3 m off), step ``validate_checkpoints``;
* ``export db PROJECT --to release.gpkg`` (target: within 2 minutes);
* ``export db PROJECT --to postgresql://…?schema=bench_scale`` (target: within 5 minutes; needs
  ``SURVEYTOOLS_PG_URL``, e.g. ``source scripts/pg_start.sh`` first, or it is skipped).

Every step is killed when its process tree's resident memory passes ``--max-gb`` (default 12), so
that a step that would need more memory than the shared machine has fails alone instead of pushing
others out (an address-space limit does not work: Arrow and GDAL reserve far more than they use).

Usage: python benchmarks/bench_scale.py [--components N] [--grids G] [--steps intake,validate,gpkg,postgis]
[--project COPY] [--checkpoints N]
Writes benchmarks/results/scale.json (merged with earlier runs of other steps).
"""
import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"


def step(name: str, args: list, max_gb: float) -> dict:
    import bench_components as bc

    cmd = [PY, "-m", "surveytools.cli", *map(str, args), "--json"]
    load0 = os.getloadavg()[0]
    r = bc.run(cmd, rss_limit_mb=max_gb * 1024)
    out = {k: v for k, v in r.items() if k not in ("stdout", "stderr")}
    out.update(load_before=round(load0, 2), load_after=round(os.getloadavg()[0], 2))
    try:
        data = json.loads(r["stdout"])
    except ValueError:
        data = {}
    if r["rc"] != 0:
        out["error"] = (data.get("error") if isinstance(data, dict) else None) or r["stderr"][-1500:]
    else:
        out["timings"] = data.get("timings")
        for k in ("imported", "ids", "unlocated"):
            if k in data:
                out[k] = data[k]
    print(name, json.dumps(out, ensure_ascii=False, default=str)[:1500], flush=True)
    return out


def checkpoints(proj: Path, n: int, path: Path) -> Path:
    """``n`` check points (layer ``cp``): components spread over the point layer, 0.5 m off (every
    tenth 3 m off); made once."""
    if path.exists():
        return path
    import numpy as np
    import pandas as pd
    import pyogrio
    import shapely

    info = pyogrio.read_info(proj, layer="components_point")
    step_ = max(int(info["features"]) // n, 1)
    fids = np.arange(1, int(info["features"]) + 1, step_)[:n]
    parts = [pyogrio.read_dataframe(proj, layer="components_point", columns=["ObjID"], use_arrow=True,
                                    where=f"fid IN ({','.join(map(str, fids[a:a + 1000]))})")
             for a in range(0, len(fids), 1000)]
    pts = pd.concat(parts, ignore_index=True)
    geoms = shapely.transform(np.asarray(pts.geometry.values, dtype=object), lambda xy: xy + [0.3, 0.4])
    geoms[::10] = shapely.transform(geoms[::10], lambda xy: xy + [1.5, 2.0])
    pyogrio.write_dataframe(pts.set_geometry(geoms), path, layer="cp")
    return path


def main() -> int:
    import bench_components as bc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--components", type=int, default=10_000_000)
    ap.add_argument("--grids", type=int, default=100_000)
    ap.add_argument("--steps", default="intake,validate,gpkg,postgis")
    ap.add_argument("--max-gb", type=float, default=12.0)
    ap.add_argument("--checkpoints", type=int, default=0, help="also validate with N check points")
    ap.add_argument("--project", help="validate/export this copy of the intake's project (the cached one is "
                                      "left as the intake wrote it; validate writes its tables into the project)")
    a = ap.parse_args()
    work = bc.cache_dir(a.components, a.grids)
    work.mkdir(parents=True, exist_ok=True)
    if not ((work / "city.gpkg").exists() and (work / "base.gpkg").exists()):
        t0 = time.perf_counter()
        bc.build(work, a.components, a.grids)
        print(f"set-up {time.perf_counter() - t0:.0f} s", flush=True)
    city, base, proj = work / "city.gpkg", work / "base.gpkg", work / "project.gpkg"
    res = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    res.update(components=a.components, grids=a.grids, cpus=os.cpu_count(),
               city_mb=round(city.stat().st_size / 1e6, 1))
    steps = res.setdefault("steps", {})
    todo = a.steps.split(",")
    if "intake" in todo:
        for f in work.glob("project.gpkg*"):
            f.unlink()
        shutil.copy(base, proj)
        steps["intake"] = step("intake", ["components", "intake", proj, f"{city}:components"], a.max_gb)
        steps["intake"]["project_mb"] = round(proj.stat().st_size / 1e6, 1)
    if a.project:
        proj = Path(a.project)
    if not proj.exists():
        print("no project: run the intake step first", file=sys.stderr)
        return 1
    if "validate" in todo:
        out = work / "validation"
        shutil.rmtree(out, ignore_errors=True)
        if a.checkpoints:
            cp = checkpoints(proj, a.checkpoints, work / f"checkpoints-{a.checkpoints}.gpkg")
            steps["validate_checkpoints"] = step("validate_checkpoints", ["validate", "run", proj, "--out", out,
                                                                          "--checkpoints", f"{cp}:cp"], a.max_gb)
            steps["validate_checkpoints"]["checkpoints"] = a.checkpoints
        else:
            steps["validate"] = step("validate", ["validate", "run", proj, "--out", out], a.max_gb)
    if "gpkg" in todo:
        rel = work / "release.gpkg"
        if rel.exists():
            rel.unlink()
        steps["export_gpkg"] = step("export_gpkg", ["export", "db", proj, "--to", rel], a.max_gb)
        if rel.exists():
            steps["export_gpkg"]["release_mb"] = round(rel.stat().st_size / 1e6, 1)
    if "postgis" in todo:
        url = os.environ.get("SURVEYTOOLS_PG_URL")
        if not url:
            steps["export_postgis"] = {"skipped": "SURVEYTOOLS_PG_URL not set"}
        else:
            sep = "&" if "?" in url else "?"
            steps["export_postgis"] = step("export_postgis", ["export", "db", proj, "--to",
                                                              f"{url}{sep}schema=bench_scale", "--replace-foreign"],
                                           a.max_gb)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
