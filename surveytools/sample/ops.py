"""Operations of the ``sample`` group: ``sample build`` and ``sample synthetic``."""
from __future__ import annotations

import time
from pathlib import Path

from ..i18n import Text
from ..ops import Param, Result, group, operation

# (no geopandas/shapely import here: the QGIS plugin imports this module to list the operations)
DEFAULT_OSM = Path(__file__).resolve().parents[2] / "sample_data" / "osm" / "mapofgx.osm"

group("sample", Text("示例数据", "Sample data"))


@operation(
    group="sample", name="build",
    help=Text("由 OpenStreetMap 生成贵溪市示例数据（街道、社区、部件、门牌、事件、部门，含故意错误）。",
              "Build the 贵溪市 sample data from OpenStreetMap (streets, communities, components, door "
              "plates, events, departments, with deliberate mistakes)."),
    params=[
        Param("out", "dir_out", Text("输出文件夹", "Output folder"), default="sample_data"),
        Param("osm", "file_in", Text("OSM 文件（.osm XML）", "OSM file (.osm XML)"), default=str(DEFAULT_OSM),
              file_filter="OpenStreetMap XML (*.osm)"),
        Param("seed", "int", Text("随机种子", "Random seed"), default=20240601, minimum=0, maximum=2**32 - 1),
    ],
)
def build(out="sample_data", osm=str(DEFAULT_OSM), seed=20240601, feedback=None) -> Result:
    from .build import build_sample

    t0 = time.perf_counter()
    res = build_sample(out, osm, int(seed), feedback=feedback)
    c = res["counts"]
    return Result(
        summary=Text("已生成示例数据：{s} 个街道、{m} 个社区、{p} 个部件、{d} 个门牌、{e} 条故意错误，用时 {t:.1f} 秒。",
                     "Sample data built: {s} streets, {m} communities, {p} components, {d} door plates, "
                     "{e} deliberate mistakes in {t:.1f} s.").format(
            s=c["streets"], m=c["communities"], p=sum(c["components"].values()), d=c["doorplates"],
            e=c["mistakes"], t=time.perf_counter() - t0),
        data={"counts": c}, outputs=res["outputs"])


@operation(
    group="sample", name="synthetic",
    help=Text("生成合成城市（单元网格 + N 个部件）用于性能测试。",
              "Generate a synthetic city (unit grids + N components) for benchmarks."),
    params=[
        Param("out", "file_out", Text("输出 GeoPackage", "Output GeoPackage"), required=True,
              file_filter="GeoPackage (*.gpkg)"),
        Param("components", "int", Text("部件数量", "Number of components"), default=1_000_000, minimum=1,
              maximum=100_000_000),
        Param("grids", "int", Text("单元网格数量", "Number of unit grids"), default=10000, minimum=1, maximum=10_000_000),
        Param("seed", "int", Text("随机种子", "Random seed"), default=0, minimum=0, maximum=2**32 - 1),
    ],
)
def synthetic(out, components=1_000_000, grids=10000, seed=0, feedback=None) -> Result:
    from .synthetic import write_synthetic_city

    t0 = time.perf_counter()
    res = write_synthetic_city(out, int(components), int(grids), int(seed), feedback=feedback)
    return Result(
        summary=Text("已生成合成城市：{g} 个单元网格、{n} 个部件，用时 {t:.1f} 秒。",
                     "Synthetic city written: {g} unit grids, {n} components in {t:.1f} s.").format(
            g=res["grids"], n=res["components"], t=time.perf_counter() - t0),
        data={"grids": res["grids"], "components": res["components"]}, outputs={"OUT": out})
