#!/usr/bin/env python3
"""Bare peer pipelines for the components intake benchmark (issue 12, point 7), one per process.

Each reads the delivery's point layer and the unit grids from a GeoPackage, gives every point
the grid that contains it (``ST_Within`` / ``sjoin within``; grid code, community and street
codes), and writes every source column plus those codes and the point geometry to a new
GeoPackage (with its R-tree, GDAL's default) — what ``components intake`` does, without the
mapping, the ID rules, the class names and the project bookkeeping.

* ``duckdb``: DuckDB 1.5.5 + its spatial extension, loaded by path from the
  ``duckdb-extension-spatial`` wheel (offline, see /work/shared/reference/perf-baseline.md):
  ``ST_Read`` both layers, ``LEFT JOIN … ON ST_Within`` (DuckDB's SPATIAL_JOIN operator),
  ``COPY … TO (FORMAT GDAL, DRIVER 'GPKG')``;
* ``gpd_arrow``: GeoPandas with pyogrio's Arrow reader/writer: ``read_dataframe(use_arrow=True)``,
  ``sjoin(predicate='within')``, ``to_file(engine='pyogrio', use_arrow=True)``.

Usage: python benchmarks/peers.py {duckdb,gpd_arrow} SOURCE.gpkg COMPONENT_LAYER GRID_LAYER OUT.gpkg
Prints one JSON line: phases in seconds and the number of rows written / located.
Install the peers with ``pip install -r requirements-bench.txt`` (not runtime dependencies).
"""
import json
import os
import sys
import time


def spatial_extension() -> str:
    import duckdb
    import duckdb_extension_spatial

    base = os.path.dirname(duckdb_extension_spatial.__file__)
    path = os.path.join(base, "extensions", f"v{duckdb.__version__}", "spatial.duckdb_extension")
    if not os.path.exists(path):
        raise SystemExit(f"no spatial extension for duckdb {duckdb.__version__} at {path}")
    return path


def run_duckdb(src, layer, grids, out) -> dict:
    import duckdb

    t = {}
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"LOAD '{spatial_extension()}'")
    t["load_ext"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE g AS SELECT BGID AS grid_code, community_code, street_code, geom "
                f"FROM ST_Read('{src}', layer='{grids}')")
    con.execute(f"CREATE TABLE p AS SELECT * FROM ST_Read('{src}', layer='{layer}')")
    t["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    drop = ", ".join(c for c in ("geom", "fid", "FID") if c in [r[0] for r in con.execute("DESCRIBE p").fetchall()])
    con.execute(f"CREATE TABLE res AS SELECT p.* EXCLUDE ({drop}), g.grid_code, g.community_code, g.street_code, "
                f"p.geom FROM p LEFT JOIN g ON ST_Within(p.geom, g.geom)")
    t["join"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    srs = con.execute(f"SELECT layers[1].geometry_fields[1].crs.auth_name || ':' || "
                      f"layers[1].geometry_fields[1].crs.auth_code FROM ST_Read_Meta('{src}')").fetchone()[0]
    con.execute(f"COPY res TO '{out}' WITH (FORMAT GDAL, DRIVER 'GPKG', SRS '{srs}', LAYER_NAME '{layer}', "
                "GEOMETRY_TYPE 'POINT')")
    t["write"] = time.perf_counter() - t0
    n, located = con.execute("SELECT count(*), count(grid_code) FROM res").fetchone()
    return {"phases": {k: round(v, 3) for k, v in t.items()}, "rows": int(n), "located": int(located)}


def run_gpd_arrow(src, layer, grids, out) -> dict:
    import geopandas as gpd
    import pyogrio

    t = {}
    t0 = time.perf_counter()
    p = pyogrio.read_dataframe(src, layer=layer, use_arrow=True)
    g = pyogrio.read_dataframe(src, layer=grids, columns=["BGID", "community_code", "street_code"], use_arrow=True)
    g = g.rename(columns={"BGID": "grid_code"})
    t["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = gpd.sjoin(p, g, how="left", predicate="within").drop(columns=["index_right"])
    res = res[~res.index.duplicated(keep="first")]
    t["join"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res.to_file(out, layer=layer, driver="GPKG", engine="pyogrio", use_arrow=True)
    t["write"] = time.perf_counter() - t0
    return {"phases": {k: round(v, 3) for k, v in t.items()}, "rows": int(len(res)),
            "located": int(res["grid_code"].notna().sum())}


def main() -> int:
    engine, src, layer, grids, out = sys.argv[1:6]
    if os.path.exists(out):
        os.unlink(out)
    t0 = time.perf_counter()
    res = {"duckdb": run_duckdb, "gpd_arrow": run_gpd_arrow}[engine](src, layer, grids, out)
    res["end_to_end_s"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
