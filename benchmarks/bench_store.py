#!/usr/bin/env python3
"""Benchmark: a one-row write into a project of N components (issue 12, point 2).

Set-up (not timed): for each size N, the synthetic city of ``bench_components.build`` (N point
components, N/100 unit grids) and a gbt30428 project into which the N components are taken in
with ``components intake``.

Timed, each a fresh process (``python -m surveytools.cli``), median of ``--reps`` runs:

* ``project info PROJECT --json`` — start-up, open the project, count every layer (the reference);
* ``components intake PROJECT one.csv --json`` — a whole operation writing one component (read
  the delivery, map, code against the ID registry and the 1M existing IDs, locate, write in one
  transaction, record the batch);
* ``store one-row update`` — a script that opens the project and changes one component's
  attribute through ``surveytools.store.update_rows`` in a transaction (the store's own cost), and
  the same script without the transaction (its start-up).

While the intake runs, the sizes of the project, its WAL and the operation's staging file are
sampled every 5 ms: the largest sum minus the project's size before is the extra disk a write
needs.  For comparison, the time to copy the project file (what every write cost before: a
copy-on-write transaction) is measured too.

Usage: python benchmarks/bench_store.py [--sizes 100000,1000000] [--reps 3] [--keep DIR]
(the projects are kept under ~/.cache/surveytools/bench/store and reused; each run adds a few rows)
Writes benchmarks/results/store.json and prints the table for docs/benchmarks.md.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
BUILD: dict = {}  # size -> the set-up intake's time and phases (in-process)

UPDATE = """
import sys, time
t0 = time.perf_counter()
from surveytools.project import Project
from surveytools import store
p = Project.open(sys.argv[1])
if sys.argv[2] == "write":
    idf = p.profile.field("component", "component_id")
    with p.transaction() as w:
        store.update_rows(w, p.table("component_point"), idf, [{idf: sys.argv[3], "Note": "bench " + str(time.time())}])
print(round(time.perf_counter() - t0, 3))
"""


def timed(cmd) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"failed: {cmd}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return wall


def disk_sampler(project: Path):
    stop = threading.Event()
    peak = [0]

    def size() -> int:
        total = 0
        for f in [project, Path(str(project) + "-wal")] + list(project.parent.glob(f".{project.stem}.stage-*")):
            try:
                total += f.stat().st_size
            except FileNotFoundError:
                pass
        return total

    def loop():
        while not stop.is_set():
            peak[0] = max(peak[0], size())
            time.sleep(0.005)

    th = threading.Thread(target=loop, daemon=True)
    th.start()
    return stop, th, peak, size


def build_project(work: Path, n: int) -> Path:
    import bench_components

    from surveytools.components.intake import intake

    info = bench_components.build(work, n, max(100, n // 100))
    proj = work / "project.gpkg"
    shutil.copy(info["base"], proj)
    t0 = time.perf_counter()
    data = intake(str(proj), f"{info['city']}:components")
    BUILD[str(n)] = {"intake_s": round(time.perf_counter() - t0, 2), "phases": data.get("timings")}
    print("intake of the city:", json.dumps(BUILD[str(n)]), flush=True)
    return proj


def measure(proj: Path, reps: int, one_csv: Path) -> dict:
    import pyogrio

    idf = "ObjID"
    some_id = str(pyogrio.read_dataframe(proj, layer="components_point", columns=[idf], read_geometry=False,
                                         max_features=1)[idf].iloc[0])
    size0 = proj.stat().st_size
    out = {"project_mb": round(size0 / 1e6, 1),
           "components": int(pyogrio.read_info(proj, layer="components_point")["features"])}
    info, intake_t, upd, base, extra = [], [], [], [], []
    for _ in range(reps):
        info.append(timed([PY, "-m", "surveytools.cli", "project", "info", str(proj), "--json"]))
        before = proj.stat().st_size + (Path(str(proj) + "-wal").stat().st_size if Path(str(proj) + "-wal").exists() else 0)
        stop, th, peak, _ = disk_sampler(proj)
        intake_t.append(timed([PY, "-m", "surveytools.cli", "components", "intake", str(proj), str(one_csv), "--json"]))
        stop.set()
        th.join()
        extra.append(max(0, peak[0] - before))
        base.append(timed([PY, "-c", UPDATE, str(proj), "open", some_id]))
        upd.append(timed([PY, "-c", UPDATE, str(proj), "write", some_id]))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=proj.parent) as d:
        shutil.copy(proj, Path(d) / "copy.gpkg")
    copy_s = time.perf_counter() - t0
    med = statistics.median
    out.update({
        "project_info_s": round(med(info), 2), "intake_one_s": round(med(intake_t), 2),
        "intake_minus_info_s": round(med(intake_t) - med(info), 2),
        "open_s": round(med(base), 2), "update_one_s": round(med(upd), 2),
        "update_minus_open_s": round(med(upd) - med(base), 2),
        "extra_disk_mb": round(max(extra) / 1e6, 2), "extra_disk_pct": round(100 * max(extra) / size0, 2),
        "file_copy_s": round(copy_s, 2),
        "runs": {"project_info": [round(x, 2) for x in info], "intake_one": [round(x, 2) for x in intake_t],
                 "open": [round(x, 2) for x in base], "update_one": [round(x, 2) for x in upd]},
    })
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--keep", help="work folder (default ~/.cache/surveytools/bench/store, reused)")
    a = ap.parse_args()
    import pandas as pd

    results = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}, "sizes": {}}
    base = Path(a.keep) if a.keep else Path(os.path.expanduser("~/.cache/surveytools/bench/store"))
    base.mkdir(parents=True, exist_ok=True)
    for n in [int(s) for s in a.sizes.split(",")]:
        work = base / f"n{n}"
        work.mkdir(exist_ok=True)
        proj = work / "project.gpkg"
        if not proj.exists():
            t0 = time.perf_counter()
            proj = build_project(work, n)
            print(f"built {n}: {time.perf_counter() - t0:.1f} s", flush=True)
        one = work / "one.csv"
        pd.DataFrame({"部件名称": ["路灯"], "lon": [117.2210], "lat": [28.2930]}).to_csv(one, index=False)
        results["sizes"][str(n)] = measure(proj, a.reps, one)
        print(json.dumps(results["sizes"][str(n)], ensure_ascii=False), flush=True)
    results["machine"]["load_after"] = os.getloadavg()[0]
    results["setup_intake"] = BUILD
    out = ROOT / "benchmarks" / "results" / "store.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print("| components | project MB | `project info` s | one-row `components intake` s | intake − info s | "
          "store one-row update − open s | extra disk during the write | file copy s (old copy-on-write) |")
    print("|---|---|---|---|---|---|---|---|")
    for n, r in results["sizes"].items():
        print(f"| {int(n):,} | {r['project_mb']} | {r['project_info_s']} | {r['intake_one_s']} | {r['intake_minus_info_s']} "
              f"| {r['update_minus_open_s']} | {r['extra_disk_mb']} MB ({r['extra_disk_pct']} %) | {r['file_copy_s']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
