"""Maps of the command manual (matplotlib, headless Agg, Noto Sans CJK).

* :func:`overview_map`: streets (thick, named), communities (named) and unit grids (thin) of the county;
* :func:`street_map`: one street, its communities (named, with their 12-digit codes) and every unit
  grid labelled with its serial (the last 2 or 3 digits; the full code is the community code + the
  serial, said in the map's note).  The label size follows the grid's size on the page, with a floor that
  keeps it readable at print resolution.

PNG at 200 dpi (embedded in the XLSX, HTML and PDF).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FONT_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
]
DPI = 200


def cjk_font() -> str | None:
    for p in FONT_CANDIDATES:
        if os.path.exists(p):
            return p
    return None


def _setup():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    path = cjk_font()
    if path:
        font_manager.fontManager.addfont(path)
        name = font_manager.FontProperties(fname=path).get_name()
        plt.rcParams["font.family"] = [name, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def _plot_polys(ax, geoms, **kw):
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    patches = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        polys = getattr(g, "geoms", [g])
        for p in polys:
            rings = [np.asarray(p.exterior.coords)] + [np.asarray(r.coords) for r in p.interiors]
            verts = np.concatenate(rings)
            codes = np.concatenate([[MPath.MOVETO] + [MPath.LINETO] * (len(r) - 2) + [MPath.CLOSEPOLY] for r in rings])
            patches.append(PathPatch(MPath(verts, codes)))
    ax.add_collection(PatchCollection(patches, match_original=False, **kw))


def _frame(ax, bounds, pad=0.03):
    minx, miny, maxx, maxy = bounds
    dx, dy = (maxx - minx) * pad, (maxy - miny) * pad
    ax.set_xlim(minx - dx, maxx + dx)
    ax.set_ylim(miny - dy, maxy + dy)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_color("#888888")


def _north_and_scale(ax, bounds):
    minx, miny, maxx, maxy = bounds
    w = maxx - minx
    step = 10 ** np.floor(np.log10(w / 4))
    length = step * (1 if w / step < 8 else 2 if w / step < 16 else 5)
    x0, y0 = minx + w * 0.03, miny + (maxy - miny) * 0.03
    ax.plot([x0, x0 + length], [y0, y0], color="black", lw=2)
    ax.text(x0 + length / 2, y0 + (maxy - miny) * 0.012, f"{length:g} m" if length < 1000 else f"{length / 1000:g} km",
            ha="center", va="bottom", fontsize=7)
    ax.annotate("N", xy=(0.97, 0.95), xycoords="axes fraction", ha="center", fontsize=11, fontweight="bold")
    ax.annotate("", xy=(0.97, 0.94), xytext=(0.97, 0.86), xycoords="axes fraction",
                arrowprops=dict(arrowstyle="-|>", color="black", lw=1.2))


def overview_map(path, streets, communities, grids, title: str, labels) -> str:
    """``labels``: dict with the frames' code/name column names."""
    import shapely

    plt = _setup()
    fig, ax = plt.subplots(figsize=(11.0, 7.6))
    _plot_polys(ax, grids.geometry.values, facecolor="none", edgecolor="#9a9a9a", linewidth=0.15)
    _plot_polys(ax, communities.geometry.values, facecolor="none", edgecolor="#e07b00", linewidth=0.8)
    palette = ["#fde0c5", "#d6ecd2", "#d5e3f3", "#f3d5e7", "#ece6c2", "#d9d2ec"]
    for i, g in enumerate(streets.geometry.values):
        _plot_polys(ax, [g], facecolor=palette[i % len(palette)], edgecolor="none", alpha=0.6, zorder=0)
    _plot_polys(ax, streets.geometry.values, facecolor="none", edgecolor="#a00000", linewidth=1.8, linestyle="--")
    pts = shapely.point_on_surface(np.asarray(communities.geometry.values, dtype=object))
    for p, name in zip(pts, communities[labels["community_name"]]):
        ax.text(p.x, p.y, str(name), fontsize=6.5, ha="center", va="center", color="#8a4a00")
    spts = shapely.point_on_surface(np.asarray(streets.geometry.values, dtype=object))
    for p, name, code in zip(spts, streets[labels["street_name"]], streets[labels["street_code"]]):
        ax.text(p.x, p.y, f"{name}\n{code}", fontsize=11, ha="center", va="center", color="#a00000", fontweight="bold",
                bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.7))
    b = tuple(shapely.total_bounds(np.asarray(streets.geometry.values, dtype=object))) if len(streets) else \
        tuple(shapely.total_bounds(np.asarray(grids.geometry.values, dtype=object)))
    _frame(ax, b)
    _north_and_scale(ax, b)
    ax.set_title(title, fontsize=14)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return str(path)


def street_map(path, street_geom, street_label: str, communities, grids, labels, serial_len: int) -> str:
    """One street: communities (code + name) and every grid with its serial."""
    import shapely

    plt = _setup()
    bounds = street_geom.bounds
    w, h = bounds[2] - bounds[0], bounds[3] - bounds[1]
    landscape = w >= h
    fig, ax = plt.subplots(figsize=(11.0, 7.6) if landscape else (7.6, 11.0))
    _plot_polys(ax, [street_geom], facecolor="#f7f4ea", edgecolor="none", zorder=0)
    _plot_polys(ax, grids.geometry.values, facecolor="none", edgecolor="#777777", linewidth=0.25)
    _plot_polys(ax, communities.geometry.values, facecolor="none", edgecolor="#e07b00", linewidth=1.0)
    _plot_polys(ax, [street_geom], facecolor="none", edgecolor="#a00000", linewidth=1.6, linestyle="--")
    _frame(ax, bounds)
    # label size: ~ the grid's side on paper (points), clamped to [3, 8]
    fig.canvas.draw()
    ax_w_in = ax.get_window_extent().width / fig.dpi
    x0, x1 = ax.get_xlim()
    pts_per_m = ax_w_in * 72.0 / (x1 - x0)
    geoms = np.asarray(grids.geometry.values, dtype=object)
    side = np.sqrt(shapely.area(geoms))
    lp = shapely.point_on_surface(geoms)
    codes = grids[labels["grid_code"]].astype(str).to_numpy()
    for p, c, s in zip(lp, codes, side):
        fs = float(np.clip(s * pts_per_m / 3.2, 3.0, 8.0))
        ax.text(p.x, p.y, c[-serial_len:], fontsize=fs, ha="center", va="center", color="#333333")
    cp = shapely.point_on_surface(np.asarray(communities.geometry.values, dtype=object))
    for p, code, name in zip(cp, communities[labels["community_code"]], communities[labels["community_name"]]):
        ax.text(p.x, p.y, f"{name}\n{code}", fontsize=8, ha="center", va="center", color="#8a4a00", fontweight="bold",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="#e07b00", lw=0.5, alpha=0.8))
    _north_and_scale(ax, bounds)
    ax.set_title(f"{street_label} 单元网格分布图", fontsize=13)
    fig.text(0.5, 0.01, f"网格内数字为顺序码：单元网格编码 = 所在社区代码（12 位）+ 顺序码（{serial_len} 位）   "
             f"Grid labels are serials: grid code = community code (12 digits) + serial ({serial_len} digits)",
             ha="center", fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.025, 1, 1))
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return str(path)


def map_files(folder) -> list:
    return sorted(str(p) for p in Path(folder).glob("*.png"))
