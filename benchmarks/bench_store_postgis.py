#!/usr/bin/env python3
"""Benchmark: the PostGIS project backend against the GeoPackage one, same data, same run.

For N point components (synthetic, in EPSG:4548), both a GeoPackage project and a PostGIS project
(``$SURVEYTOOLS_PG_URL?schema=bench_store``) are created, then timed (median of ``--reps``):

* ``write N``     — one transaction writing the N components (``write_project_layer``): GDAL to the
                    staging GeoPackage, then the commit (GeoPackage: SQL in place; PostGIS: COPY);
* ``read all``    — ``store.read_arrow`` of the whole layer (PostGIS: COPY … ORDER BY fid → Arrow);
* ``read bbox``   — ``store.read_arrow`` with a bounding box holding ~1 % of the points;
* ``read where``  — ``store.read_arrow`` with an attribute filter on ``ObjID`` (1 row; the ID index);
* ``one-row update`` — a transaction with ``store.update_rows`` of one component (lock, commit, log);
* ``ids lookup``  — the existing IDs a one-component delivery needs (is its ID taken, the highest serial of
                    its class) through the standard-ID index (``components.store.relevant_ids``);
* ``ids read all`` — every ID read instead (``components.store.read_ids``).

Usage: SURVEYTOOLS_PG_URL=postgresql://… python benchmarks/bench_store_postgis.py [--n 1000000] [--reps 3]
(``source scripts/pg_start.sh`` starts a throwaway server).  Writes benchmarks/results/store_postgis.json.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def components(n: int):
    import geopandas as gpd
    import numpy as np

    rng = np.random.default_rng(7)
    x = 500000 + rng.random(n) * 20000
    y = 3120000 + rng.random(n) * 20000
    return gpd.GeoDataFrame({"ObjID": [f"3606810101{i:06d}" for i in range(n)], "ObjName": ["路灯"] * n,
                             "ClassCode": ["0102"] * n, "ObjState": ["完好"] * n},
                            geometry=gpd.points_from_xy(x, y), crs=4548)


def timed(fn, reps: int) -> float:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    url = os.environ.get("SURVEYTOOLS_PG_URL")
    if not url:
        sys.exit("SURVEYTOOLS_PG_URL is not set (source scripts/pg_start.sh)")
    import psycopg
    import pyarrow as pa

    from surveytools import project, store
    from surveytools.components import store as cstore
    from surveytools.components.coding import IdSpec
    from surveytools.locate import COMPONENT_LAYERS
    from surveytools.project import write_project_layer

    gdf = components(args.n)
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-pg-"))
    gpkg = tmp / "p.gpkg"
    uri = f"{url}?schema=bench_store"
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS bench_store CASCADE")
    project.init(project=str(gpkg), county="360681")
    project.init(project=uri, county="360681")
    res = {"n": args.n, "reps": args.reps}
    bbox = (500000, 3120000, 502000, 3122000)  # ~1 % of the area
    oid = gdf["ObjID"].iloc[args.n // 2]
    for name, target in (("gpkg", str(gpkg)), ("postgis", uri)):
        prj = project.Project.open(target)

        def write():
            with prj.transaction() as w:
                write_project_layer(w, "component_point", gdf)

        def update():
            with prj.transaction() as w:
                store.update_rows(w, "components_point", "ObjID", [{"ObjID": oid, "ObjState": "破损"}])

        r = {"write": timed(write, 1)}
        r["read_all"] = timed(lambda: store.read_arrow(target, "components_point"), args.reps)
        r["read_bbox"] = timed(lambda: store.read_arrow(target, "components_point", bbox=bbox), args.reps)
        r["read_where"] = timed(lambda: store.read_arrow(target, "components_point", where=f"\"ObjID\" = '{oid}'"),
                                args.reps)
        r["one_row_update"] = timed(update, args.reps)
        # the IDs a one-component delivery needs (taken? highest serial of its class) through the ID index,
        # against reading every ID (what an intake did on PostGIS before the index)
        spec = IdSpec.of(prj.profile, prj.county)
        delivered, classes = pa.array([oid, None], pa.string()), pa.array(["0101", "0101"], pa.string())
        found = cstore.relevant_ids(prj, COMPONENT_LAYERS, delivered, classes, spec)
        assert found is not None and oid in found.to_pylist(), "no ID index"
        r["ids_lookup"] = timed(lambda: cstore.relevant_ids(prj, COMPONENT_LAYERS, delivered, classes, spec), args.reps)
        r["ids_read_all"] = timed(lambda: cstore.read_ids(prj, COMPONENT_LAYERS), args.reps)
        res[name] = r
        print(name, {k: round(v, 3) for k, v in r.items()}, flush=True)
    out = ROOT / "benchmarks" / "results" / "store_postgis.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2), encoding="utf-8")
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS bench_store CASCADE")
    print("| step | GeoPackage (s) | PostGIS (s) |\n|---|---|---|")
    for k in res["gpkg"]:
        print(f"| {k} | {res['gpkg'][k]:.2f} | {res['postgis'][k]:.2f} |")


if __name__ == "__main__":
    main()
