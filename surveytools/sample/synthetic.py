"""A synthetic city of N components on a lattice of unit grids, for benchmarks.

* Unit grids (单元网格): an ``nx × ny`` lattice of quads of ``cell`` metres whose interior
  vertices are jittered (± ``jitter`` × cell).  Neighbouring quads share their vertices, so the
  grids tile the city exactly (no gaps, no overlaps).  When ``n_grids`` is not ``nx × ny`` the
  last row is partial (the union is then a staircase, still gap-free).  Codes are 15 digits
  (GB/T 30428.1): county 6 + street 3 + community 3 + serial 3; communities are blocks of
  ``block × block`` cells, ``communities_per_street`` communities make a street, serials run
  west→east, north→south inside a community.
* Components: 80 % uniform over the grids, 20 % in Gaussian clusters, each with a CJ/T 214
  class and the standard attribute fields.  Points are drawn in lattice coordinates and mapped
  into their quad bilinearly, so every point lies inside a grid by construction.

Everything is whole-array numpy / Arrow (no per-feature Python loop); components are produced
in chunks so that 10 million can be streamed to a GeoPackage with ``pyogrio.write_arrow``.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely

from ..errors import SurveyError
from ..i18n import Text
from .components import CLASSES
from .departments import dept_name

CRS = "EPSG:4548"

#: point classes and their share of the synthetic components (max < 10 % so that a 6-digit
#: serial per class suffices for 10 million components).  Only classes whose profile geometry is
#: point: 0301 公共厕所 is a polygon class in CJ/T 214, and intake rejects points of it.
SYN_CLASSES = {
    "0101": 0.05, "0102": 0.07, "0103": 0.07, "0104": 0.09, "0105": 0.05, "0107": 0.05, "0111": 0.04,
    "0113": 0.05, "0118": 0.09, "0121": 0.02, "0123": 0.02, "0134": 0.06, "0203": 0.03, "0209": 0.05,
    "0210": 0.03, "0213": 0.04, "0305": 0.09, "0402": 0.10 - 1e-9,
}
STATES = ["完好", "破损", "丢失", "占用"]
STATE_P = np.array([0.9, 0.06, 0.015, 0.025])


@dataclass
class Lattice:
    nx: int
    ny: int
    n: int
    vx: np.ndarray  # (ny+1, nx+1) vertex x
    vy: np.ndarray


def _lattice(n_grids, seed, cell, origin, jitter) -> Lattice:
    if n_grids < 1:
        raise SurveyError(Text("网格数必须大于 0。", "The number of grids must be positive."), value=n_grids)
    nx = max(1, int(math.ceil(math.sqrt(n_grids))))
    ny = int(math.ceil(n_grids / nx))
    rng = np.random.default_rng([seed, 1])
    jx, jy = np.meshgrid(np.arange(nx + 1, dtype=float), np.arange(ny + 1, dtype=float))
    # jitter interior vertices only: the outline stays straight
    dx = rng.uniform(-jitter, jitter, jx.shape)
    dy = rng.uniform(-jitter, jitter, jy.shape)
    dx[:, [0, -1]] = 0.0
    dy[[0, -1], :] = 0.0
    # vertices of a partial last row's top edge are on the outline too
    vx = origin[0] + (jx + dx) * cell
    vy = origin[1] + (jy + dy) * cell
    vx, vy = np.round(vx, 3), np.round(vy, 3)
    return Lattice(nx, ny, n_grids, vx, vy)


def _cell_codes(lat: Lattice, county: str, block: int, per_street: int) -> np.ndarray:
    k = np.arange(lat.n)
    i, j = k % lat.nx, k // lat.nx               # column (west->east), row (south->north)
    bcols = int(math.ceil(lat.nx / block))
    brows = int(math.ceil(lat.ny / block))
    bi, bj = i // block, (brows - 1) - j // block  # community blocks numbered from the north-west
    comm = bj * bcols + bi
    street = comm // per_street + 1
    cser = comm % per_street + 1
    # serial inside the community block: west->east, north->south
    ii, jj = i % block, (block - 1) - (j % block)
    serial = jj * block + ii + 1
    if street.max() > 999 or serial.max() > 999:
        raise SurveyError(Text("网格过多，编码超出 3 位。", "Too many grids for 3-digit code parts."))
    return np.char.add(np.char.add(np.char.add(county, np.char.zfill(street.astype(str), 3)),
                                   np.char.zfill(cser.astype(str), 3)), np.char.zfill(serial.astype(str), 3))


def synthetic_grids(n_grids: int = 10000, seed: int = 0, cell: float = 100.0,
                    origin=(500000.0, 3100000.0), jitter: float = 0.2, county: str = "360681",
                    block: int = 10, communities_per_street: int = 10, lattice: Lattice | None = None):
    lat = lattice or _lattice(n_grids, seed, cell, origin, jitter)
    k = np.arange(lat.n)
    i, j = k % lat.nx, k // lat.nx
    # ring: (i,j) (i+1,j) (i+1,j+1) (i,j+1) (i,j)
    ci = np.stack([i, i + 1, i + 1, i, i], axis=1)
    cj = np.stack([j, j, j + 1, j + 1, j], axis=1)
    coords = np.stack([lat.vx[cj, ci], lat.vy[cj, ci]], axis=2).reshape(-1, 2)
    rings = shapely.linearrings(coords, indices=np.repeat(k, 5))
    polys = shapely.polygons(rings)
    codes = _cell_codes(lat, county, block, communities_per_street)
    gdf = gpd.GeoDataFrame({"BGID": codes}, geometry=polys, crs=CRS)
    gdf["street_code"] = gdf["BGID"].str[:9]
    gdf["community_code"] = gdf["BGID"].str[:12]
    gdf["BGArea"] = np.round(shapely.area(polys), 2)
    gdf["ORDate"] = "2024-06-01"
    return gdf


def _points(rng, lat: Lattice, n):
    """n points in lattice coordinates (80 % uniform, 20 % clustered) mapped to world x, y."""
    n_cl = int(round(n * 0.2))
    n_un = n - n_cl
    cell = rng.integers(0, lat.n, n_un)
    s = (cell % lat.nx) + rng.random(n_un)
    t = (cell // lat.nx) + rng.random(n_un)
    if n_cl:
        k = max(1, min(50, n // 20000 + 3))
        cc = rng.integers(0, lat.n, k)
        cs, ct = cc % lat.nx + 0.5, cc // lat.nx + 0.5
        sig = rng.uniform(1.0, 5.0, k)
        which = rng.integers(0, k, n_cl)
        s2 = cs[which] + rng.normal(0, 1, n_cl) * sig[which]
        t2 = ct[which] + rng.normal(0, 1, n_cl) * sig[which]
        # outside the lattice or beyond a partial last row
        bad = np.flatnonzero((s2 < 0) | (t2 < 0) | (s2 >= lat.nx) | (t2 >= lat.ny)
                             | ((np.floor(t2) * lat.nx + np.floor(s2)) >= lat.n))
        if len(bad):  # replace by uniform points
            c2 = rng.integers(0, lat.n, len(bad))
            s2[bad] = c2 % lat.nx + rng.random(len(bad))
            t2[bad] = c2 // lat.nx + rng.random(len(bad))
        s, t = np.concatenate([s, s2]), np.concatenate([t, t2])
    i, j = np.floor(s).astype(np.int64), np.floor(t).astype(np.int64)
    u, v = s - i, t - j
    # bilinear map inside the quad
    x00, x10, x01, x11 = lat.vx[j, i], lat.vx[j, i + 1], lat.vx[j + 1, i], lat.vx[j + 1, i + 1]
    y00, y10, y01, y11 = lat.vy[j, i], lat.vy[j, i + 1], lat.vy[j + 1, i], lat.vy[j + 1, i + 1]
    x = (1 - u) * (1 - v) * x00 + u * (1 - v) * x10 + (1 - u) * v * x01 + u * v * x11
    y = (1 - u) * (1 - v) * y00 + u * (1 - v) * y10 + (1 - u) * v * y01 + u * v * y11
    return x, y


def _wkb_points(x, y) -> pa.Array:
    """Little-endian WKB points built with numpy (21 bytes each), as an Arrow binary array."""
    n = len(x)
    rec = np.empty(n, dtype=np.dtype([("bo", "u1"), ("t", "<u4"), ("x", "<f8"), ("y", "<f8")]))
    rec["bo"], rec["t"], rec["x"], rec["y"] = 1, 1, x, y
    offsets = np.arange(0, 21 * (n + 1), 21, dtype=np.int32)
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(rec.tobytes())])


def component_chunks(n_components: int, lattice: Lattice, seed: int = 0, chunk: int = 1_000_000,
                     county: str = "360681"):
    """Yield Arrow tables of components (WKB ``geometry`` + standard fields), chunk by chunk."""
    codes = np.array(list(SYN_CLASSES))
    p = np.array(list(SYN_CLASSES.values()))
    p = p / p.sum()
    names = pa.array([CLASSES[c][0] for c in codes])
    depts = [(pa.array([CLASSES[c][2][k] for c in codes]), pa.array([dept_name(CLASSES[c][2][k]) for c in codes]))
             for k in range(3)]
    class_num = codes.astype(np.int64)
    counter = np.zeros(len(codes), np.int64)
    states = pa.array(STATES)
    base_day = np.datetime64("2008-01-01", "D").astype(np.int64)
    survey_day = np.datetime64("2024-05-06", "D").astype(np.int64)
    done, ci = 0, 0
    while done < n_components:
        m = min(chunk, n_components - done)
        rng = np.random.default_rng([seed, 2, ci])
        x, y = _points(rng, lattice, m)
        cls = rng.choice(len(codes), m, p=p)
        # serial per class: running counter + rank inside this chunk
        order = np.argsort(cls, kind="stable")
        counts = np.bincount(cls, minlength=len(codes))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.empty(m, np.int64)
        rank[order] = np.arange(m) - np.repeat(starts, counts)
        serial = counter[cls] + rank + 1
        counter += counts
        if counter.max() > 999999:
            raise SurveyError(Text("某一小类的部件超过 999999 个，6 位顺序码不够。",
                                   "More than 999,999 components of one class: the 6-digit serial overflows."))
        objid = int(county) * 10**10 + class_num[cls] * 10**6 + serial
        idx = pa.array(cls.astype(np.int32))
        st = rng.choice(len(STATES), m, p=STATE_P).astype(np.int32)
        ordate = (base_day + rng.integers(0, 16 * 365, m)).astype(np.int32)
        chdate = (survey_day + rng.integers(0, 45, m)).astype(np.int32)
        cols = {
            "ObjID": pc.cast(pa.array(objid), pa.string()),
            "ObjName": pc.take(names, idx),
            "DeptCode1": pc.take(depts[0][0], idx), "DeptName1": pc.take(depts[0][1], idx),
            "DeptCode2": pc.take(depts[1][0], idx), "DeptName2": pc.take(depts[1][1], idx),
            "DeptCode3": pc.take(depts[2][0], idx), "DeptName3": pc.take(depts[2][1], idx),
            "BGID": pa.nulls(m, pa.string()),
            "ObjState": pc.take(states, pa.array(st)),
            "ORDate": pa.array(ordate, pa.date32()),
            "CHDate": pa.array(chdate, pa.date32()),
            "DataSource": pc.take(pa.array(["实测"]), pa.array(np.zeros(m, np.int32))),
            "Note": pa.nulls(m, pa.string()),
            "geometry": _wkb_points(x, y),
        }
        yield pa.table(cols)
        done += m
        ci += 1


@dataclass
class SyntheticCity:
    grids: gpd.GeoDataFrame
    components: pa.Table  # WKB geometry column "geometry", CRS EPSG:4548

    def components_gdf(self) -> gpd.GeoDataFrame:
        df = self.components.drop(["geometry"]).to_pandas()
        geom = shapely.from_wkb(self.components.column("geometry").to_numpy(zero_copy_only=False))
        return gpd.GeoDataFrame(df, geometry=geom, crs=CRS)


def synthetic_city(n_components: int, n_grids: int = 10000, seed: int = 0, cell: float = 100.0,
                   origin=(500000.0, 3100000.0), jitter: float = 0.2, chunk: int = 1_000_000) -> SyntheticCity:
    """The synthetic city in memory (grids as a GeoDataFrame, components as an Arrow table)."""
    lat = _lattice(n_grids, seed, cell, origin, jitter)
    grids = synthetic_grids(lattice=lat)
    comps = pa.concat_tables(list(component_chunks(n_components, lat, seed, chunk)))
    return SyntheticCity(grids, comps)


def write_synthetic_city(path, n_components: int, n_grids: int = 10000, seed: int = 0, cell: float = 100.0,
                         chunk: int = 1_000_000, feedback=None) -> dict:
    """Stream the synthetic city into a GeoPackage (layers ``grids`` and ``components``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    if tmp.exists():
        tmp.unlink()
    lat = _lattice(n_grids, seed, cell, (500000.0, 3100000.0), 0.2)
    grids = synthetic_grids(lattice=lat)
    pyogrio.write_dataframe(grids, tmp, layer="grids", driver="GPKG", dataset_options={"VERSION": "1.2"})
    crs_wkt = grids.crs.to_wkt()
    written = 0

    def batches():
        nonlocal written
        for table in component_chunks(n_components, lat, seed, chunk):
            for b in table.to_batches():
                yield b
            written += table.num_rows
            if feedback is not None:
                feedback.progress(100.0 * written / max(n_components, 1))

    # one stream into one new layer: GDAL builds the R-tree once at the end (a chunked append
    # would update the R-tree row by row, which is several times slower at 10 million)
    schema = next(component_chunks(1, lat, seed, 1)).schema
    reader = pa.RecordBatchReader.from_batches(schema, batches())
    pyogrio.write_arrow(reader, tmp, layer="components", driver="GPKG", geometry_name="geometry",
                        geometry_type="Point", crs=crs_wkt, append=True)
    os.replace(tmp, path)
    return {"grids": len(grids), "components": written, "path": str(path)}
