#!/usr/bin/env python
"""Geocoding benchmark: parsing speed and forward matching against a 100,000-door-plate base.

* parsing: the 18,367 real addresses of ../shared/data/addresses_cpca/addr.csv (repeated),
  one core, ``surveytools.geocode.parse.parse``;
* forward: a synthetic base — unit grids from ``surveytools.sample.synthetic.synthetic_city``
  (100 m cells), straight synthetic roads laid across it, door plates generated along them by
  the sample's door-plate generator (``surveytools.sample.doorplates.generate_doorplates``: odd
  left, even right, 15–40 m apart, 之一 and 附号 plates) until ≥ 100,000 plates; 2 % of the
  plates are left out of the index and asked for (interpolation).  Query mix: 60 % clean full
  addresses, 20 % short (road + number), 10 % noisy (Chinese numerals, a homophone typo in the
  road), 10 % left-out plates (interpolated);
* reverse: random points near plates.

Run ``.venv/bin/python benchmarks/bench_geocode.py [--plates 100000]``; writes
``benchmarks/results/geocode.json``.  Peak memory: ``/usr/bin/time -v`` around this script.
"""
from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ADDR = ROOT.parent / "shared" / "data" / "addresses_cpca" / "addr.csv"
CHARS = "华新建人民解放和平中山胜利友谊文化光明幸福长安青年朝阳东风红旗团结五一迎宾滨江永安兴业振兴繁荣"


def synthetic_base(n_plates: int, seed: int = 1):
    import geopandas as gpd
    import shapely

    from surveytools.locate import locate
    from surveytools.sample.doorplates import generate_doorplates
    from surveytools.sample.synthetic import synthetic_city

    city = synthetic_city(1, n_grids=160 * 160, seed=seed, cell=100.0, origin=(500000.0, 3100000.0))
    grids = city.grids
    rng = np.random.default_rng(seed)
    names, lines = [], []
    per_col, length = 110, 3000.0
    n_roads = int(np.ceil(n_plates / 225))
    sufs = ["路", "街", "大道", "东路", "西路"]
    seen = set()
    while len(names) < n_roads:
        n = CHARS[rng.integers(len(CHARS))] + CHARS[rng.integers(len(CHARS))] + sufs[rng.integers(len(sufs))]
        if n not in seen:
            seen.add(n)
            names.append(n)
    for i in range(n_roads):
        x0 = 500200.0 + (i // per_col) * 3600.0
        y0 = 3100200.0 + (i % per_col) * 140.0
        lines.append(shapely.LineString([(x0, y0), (x0 + length, y0 + 5.0)]))
    roads = gpd.GeoDataFrame({"name": names, "road_class": "major"}, geometry=lines, crs="EPSG:4548")
    plates = generate_doorplates(roads, seed=seed, county_name="贵溪市")
    gcode = "code" if "code" in grids.columns else grids.columns[0]
    codes = grids[gcode].astype(str).to_numpy(dtype=object)
    gi = locate(plates.geometry.values, grids.geometry.values, codes)
    grid = np.where(gi >= 0, codes[np.maximum(gi, 0)], None)
    from surveytools.geocode.standardize import door_text

    dt = [door_text(n, s) for n, s in zip(plates["number"], plates["suffix"])]
    frame = pd.DataFrame({"place_code": [f"360681040{i:06d}" for i in range(len(plates))],
                          "road_name": plates["road"], "number": plates["number"].astype(np.int64),
                          "suffix": plates["suffix"], "door_text": dt, "building": plates["building"],
                          "grid_code": grid, "street_code": pd.Series(grid, dtype=object).str[:9],
                          "street_name": "花园街道", "community_code": pd.Series(grid, dtype=object).str[:12],
                          "community_name": "白果社区"})
    frame["name"] = frame["road_name"] + frame["door_text"]
    frame["address"] = "江西省鹰潭市贵溪市花园街道白果社区" + frame["name"]
    frame["geometry"] = np.asarray(plates.geometry.values, dtype=object)
    rframe = pd.DataFrame({"place_code": [f"360681030{i:06d}" for i in range(len(roads))], "name": names, "aliases": "",
                           "geometry": lines})
    return frame, rframe, codes, np.asarray(grids.geometry.values, dtype=object)


def main(argv=None):
    from surveytools.geocode.evaluation import HOMOPHONES, to_chinese
    from surveytools.geocode.index import AddressIndex
    from surveytools.geocode.match import forward
    from surveytools.geocode.parse import parse
    from surveytools.geocode.reverse import reverse

    ap = argparse.ArgumentParser()
    ap.add_argument("--plates", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=20_000)
    args = ap.parse_args(argv)
    results = {"machine": platform.processor() or platform.machine(), "python": platform.python_version()}
    # -- parsing ---------------------------------------------------------------------------------
    rows = [r[0] for r in csv.reader(open(ADDR, encoding="utf-8"))][1:] if ADDR.exists() else []
    parse("预热 warm-up 雄石路1号")
    t0 = time.perf_counter()
    for _ in range(3):
        for a in rows:
            parse(a)
    dt = time.perf_counter() - t0
    results["parse"] = {"addresses": 3 * len(rows), "seconds": round(dt, 3), "per_second": round(3 * len(rows) / dt)}
    # -- base and index --------------------------------------------------------------------------
    t0 = time.perf_counter()
    plates, roads, gcodes, ggeoms = synthetic_base(args.plates)
    t_gen = time.perf_counter() - t0
    rng = np.random.default_rng(3)
    held = rng.random(len(plates)) < 0.02
    held &= plates["suffix"].to_numpy() == ""
    t0 = time.perf_counter()
    idx = AddressIndex.from_frames(crs="EPSG:4548", county="360681", plates=plates[~held], roads=roads,
                                   grid_codes=gcodes, grid_geoms=ggeoms, comm_len=12)
    t_index = time.perf_counter() - t0
    results["base"] = {"door_plates": int(len(plates)), "indexed": int((~held).sum()), "roads": int(len(roads)),
                       "unit_grids": int(len(gcodes)), "generate_seconds": round(t_gen, 2),
                       "index_build_seconds": round(t_index, 2)}
    # -- queries ---------------------------------------------------------------------------------
    q = args.queries
    known = plates[~held].reset_index(drop=True)
    pick = known.iloc[rng.integers(0, len(known), q)]
    kinds = rng.choice(["clean", "short", "noisy"], size=q, p=[0.6 / 0.9, 0.2 / 0.9, 0.1 / 0.9])
    queries = []
    for k, r in zip(kinds, pick.itertuples(index=False)):
        if k == "clean":
            queries.append(("clean", r.address, r.place_code))
        elif k == "short":
            queries.append(("short", r.name, r.place_code))
        else:
            rd = r.road_name
            pos = [i for i, c in enumerate(rd) if c in HOMOPHONES]
            if pos:
                i = pos[0]
                rd = rd[:i] + HOMOPHONES[rd[i]] + rd[i + 1:]
            door = f"{to_chinese(int(r.number))}号" + (r.suffix if not str(r.suffix).startswith("附") else "")
            queries.append(("noisy", "贵溪市" + rd + door, r.place_code))
    hp = plates[held]
    nh = max(1, q // 10)
    hsel = hp.iloc[rng.integers(0, len(hp), nh)]
    queries += [("interpolated", r.name, None) for r in hsel.itertuples(index=False)]
    truth_xy = {r.name: (r.geometry.x, r.geometry.y) for r in hsel.itertuples(index=False)}
    order = rng.permutation(len(queries))
    queries = [queries[i] for i in order]
    forward(idx, queries[0][1])
    t0 = time.perf_counter()
    out = [forward(idx, a) for _k, a, _t in queries]
    dt = time.perf_counter() - t0
    per = {}
    for (k, a, t), r in zip(queries, out):
        d = per.setdefault(k, {"n": 0, "right": 0})
        d["n"] += 1
        if k == "interpolated":
            x, y = truth_xy[a]
            d["right"] += int(r["level"] == "interpolated" and np.hypot(r["x"] - x, r["y"] - y) < 30)
        else:
            d["right"] += int(r["place_code"] == t)
    results["forward"] = {"queries": len(queries), "seconds": round(dt, 3), "per_second": round(len(queries) / dt),
                          "by_kind": {k: {**v, "accuracy": round(v["right"] / v["n"], 4)} for k, v in per.items()}}
    # timing per kind
    for k in per:
        sub = [a for kk, a, _t in queries if kk == k]
        t0 = time.perf_counter()
        for a in sub:
            forward(idx, a)
        results["forward"]["by_kind"][k]["per_second"] = round(len(sub) / (time.perf_counter() - t0))
    # -- reverse ---------------------------------------------------------------------------------
    xs = known["geometry"].iloc[rng.integers(0, len(known), 5000)]
    pts = [(g.x + rng.normal(0, 5), g.y + rng.normal(0, 5)) for g in xs]
    t0 = time.perf_counter()
    for x, y in pts:
        reverse(idx, x, y)
    dt = time.perf_counter() - t0
    results["reverse"] = {"points": len(pts), "seconds": round(dt, 3), "per_second": round(len(pts) / dt)}
    # -- report ----------------------------------------------------------------------------------
    print(f"{'what':<34} {'n':>9} {'seconds':>9} {'per second':>11}")
    print(f"{'parse (real addresses)':<34} {results['parse']['addresses']:>9} {results['parse']['seconds']:>9} "
          f"{results['parse']['per_second']:>11}")
    print(f"{'forward (all kinds)':<34} {results['forward']['queries']:>9} {results['forward']['seconds']:>9} "
          f"{results['forward']['per_second']:>11}")
    for k, v in results["forward"]["by_kind"].items():
        print(f"{'  forward ' + k + ' (acc ' + format(v['accuracy'], '.1%') + ')':<34} {v['n']:>9} {'':>9} {v['per_second']:>11}")
    print(f"{'reverse':<34} {results['reverse']['points']:>9} {results['reverse']['seconds']:>9} "
          f"{results['reverse']['per_second']:>11}")
    print(f"base: {results['base']}")
    outp = ROOT / "benchmarks" / "results" / "geocode.json"
    outp.parent.mkdir(parents=True, exist_ok=True)
    outp.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
