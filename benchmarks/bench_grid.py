#!/usr/bin/env python3
"""Benchmark: unit-grid division and coding.

1. the 28 km² sample district (贵溪市, OSM roads, rivers, railways, water) — target ≤ 20 s;
2. a synthetic 500 km² city — about 500 communities (Voronoi cells of random seeds, ~1 km² each),
   a road network every 250–400 m with jitter plus arterials and a river — about 50,000 grids,
   target ≤ 5 min on 2 cores.

Each case times ``grid divide`` end to end (reading inputs, dividing, coding, writing the
project).  Writes benchmarks/results/grid.json.  Usage: python benchmarks/bench_grid.py [--quick]
"""
import json
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from surveytools import project  # noqa: E402
from surveytools.grid import ops as grid  # noqa: E402

CRS = "EPSG:4548"


def synthetic_city(side_km: float, n_comm: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    x0, y0 = 500000.0, 3100000.0
    side = side_km * 1000
    frame = shapely.box(x0, y0, x0 + side, y0 + side)
    seeds = shapely.points(rng.uniform([x0, y0], [x0 + side, y0 + side], size=(n_comm, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame))
    cells = shapely.intersection(cells, frame)
    cells = cells[shapely.area(cells) > 0]
    streets = np.arange(len(cells)) // 20 + 1
    codes = [f"360681{s:03d}{i % 20 + 1:03d}" for i, s in enumerate(streets)]
    comms = gpd.GeoDataFrame({"code": codes, "name": [f"社区{i}" for i in range(len(cells))]},
                             geometry=list(cells), crs=CRS)
    lines = []
    for axis in (0, 1):
        pos = 0.0
        while pos < side:
            pos += rng.uniform(250, 400)
            jitter = rng.normal(0, 15, size=12)
            t = np.linspace(0, side, 12)
            xy = np.column_stack([t, pos + jitter]) if axis == 0 else np.column_stack([pos + jitter, t])
            lines.append(shapely.LineString(xy + [x0, y0]))
    for _ in range(6):  # arterials
        a, b = rng.uniform([x0, y0], [x0 + side, y0 + side], size=(2, 2))
        lines.append(shapely.LineString([a, b]))
    t = np.linspace(0, side, 400)
    lines.append(shapely.LineString(np.column_stack([t + x0, y0 + side / 2 + 1500 * np.sin(t / 3000)])))  # river
    roads = gpd.GeoDataFrame({"kind": ["road"] * len(lines)}, geometry=lines, crs=CRS)
    return comms, roads


def run_divide(tmp: Path, name: str, profile: str, communities: str, lines: list) -> dict:
    p = tmp / f"{name}.gpkg"
    project.init(project=str(p), county="360681", profile=profile, crs=CRS, overwrite=True)
    t0 = time.perf_counter()
    res = grid.divide(project=str(p), communities=communities, lines=lines)
    dt = time.perf_counter() - t0
    return {"case": name, "seconds": round(dt, 2), "grids": res.data["grids"], "communities": res.data["communities"],
            "median_area": round(res.data["area_median"], 1), "outliers": len(res.data["outliers"])}


def main():
    quick = "--quick" in sys.argv
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        b = ROOT / "sample_data/guixi/base.gpkg"
        rows.append(run_divide(tmp, "sample_28km2", "cjt", f"{b}:communities",
                               [f"{b}:roads", f"{b}:rivers", f"{b}:railways", f"{b}:water"]))
        rows[-1]["target_seconds"] = 20
        side, n = (7.1, 50) if quick else (22.4, 500)
        comms, roads = synthetic_city(side, n)
        f = tmp / "city.gpkg"
        comms.to_file(f, layer="communities")
        roads.to_file(f, layer="roads")
        rows.append(run_divide(tmp, f"synthetic_{side * side:.0f}km2", "gbt30428", f"{f}:communities", [f"{f}:roads"]))
        rows[-1]["target_seconds"] = 300 if not quick else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"rows": rows, "peak_rss_mb": round(peak), "cpus": 2}
    (ROOT / "benchmarks/results").mkdir(parents=True, exist_ok=True)
    (ROOT / "benchmarks/results/grid.json").write_text(json.dumps(out, ensure_ascii=False, indent=2))
    print(f"{'case':<22}{'grids':>8}{'communities':>13}{'seconds':>10}{'target':>8}")
    for r in rows:
        print(f"{r['case']:<22}{r['grids']:>8}{r['communities']:>13}{r['seconds']:>10}{str(r.get('target_seconds')):>8}")
    print(f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
