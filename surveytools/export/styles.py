"""QGIS layer styles of the release, written by hand from templates (``styles/layer.qml``,
``styles/layer.sld``): no ``qgis`` import.  The rows go to the release's ``layer_styles`` table
(the QGIS schema), so QGIS opens every layer styled: grids as outlines with their codes, streets and
communities with their names, components coloured by major class.
"""
from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: colours of the major classes (RGB), cycled
PALETTE = [(31, 120, 180), (227, 26, 28), (51, 160, 44), (255, 127, 0), (106, 61, 154), (177, 89, 40),
           (166, 206, 227), (251, 154, 153), (178, 223, 138), (253, 191, 111), (202, 178, 214), (255, 255, 153)]
GEOM_TYPE = {"point": 0, "multipoint": 0, "line": 1, "multiline": 1, "polygon": 2, "multipolygon": 2}
KIND = {"point": "marker", "multipoint": "marker", "line": "line", "multiline": "line", "polygon": "fill",
        "multipolygon": "fill"}


@lru_cache(maxsize=1)
def _env():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(str(HERE / "styles")), autoescape=select_autoescape(["qml", "sld"],
                                                                                                     default=True),
                       trim_blocks=False, lstrip_blocks=False)


def _rgba(rgb, a=255) -> str:
    return f"{rgb[0]},{rgb[1]},{rgb[2]},{a}"


def _hex(rgb) -> str:
    return "#%02x%02x%02x" % tuple(rgb[:3])


def style_params(style: str, geometry: str, profile, fieldname) -> dict:
    """Template parameters of a style id.  ``fieldname(role)`` gives the table's field for a role."""
    kind = KIND[geometry]
    p = {"kind": kind, "geometry_type": GEOM_TYPE[geometry], "layer_type": GEOM_TYPE[geometry], "categories": [],
         "label": None, "single": None, "other_symbol": None, "other_label": "其他 / other"}
    outline = lambda rgb, w, ls="solid": {"color": "0,0,0,0", "outline": _rgba(rgb), "width": w, "fill_style": "no",  # noqa: E731
                                          "line_style": ls}
    lab = lambda field, size, color=(40, 40, 40), bold=False, max_scale=0, placement=1, z=0, expression=False: {  # noqa: E731
        "field": field, "size": size, "color": _rgba(color), "bold": bold, "max_scale": max_scale,
        "placement": placement, "z": z, "expression": expression}
    if style == "streets":
        p["single"] = outline((160, 0, 0), 1.0, "dash")
        p["label"] = lab(fieldname("street_name"), 13, (160, 0, 0), bold=True, z=3)
    elif style == "communities":
        p["single"] = outline((230, 120, 0), 0.6)
        p["label"] = lab(fieldname("community_name"), 10, (180, 90, 0), bold=True, max_scale=50000, z=2)
    elif style == "unit_grids":
        p["single"] = outline((90, 90, 90), 0.2)
        p["label"] = lab(fieldname("grid_code"), 7, max_scale=8000)
    elif style == "work_grids":
        p["single"] = outline((30, 90, 200), 0.7)
        p["label"] = lab(fieldname("grid_code"), 8, (30, 90, 200), max_scale=20000, z=1)
    elif style == "responsibility_grids":
        p["single"] = outline((0, 140, 70), 0.7, "dash")
        p["label"] = lab(fieldname("name") or fieldname("grid_code"), 8, (0, 120, 60), max_scale=20000, z=1)
    elif style == "responsibility_areas":
        p["single"] = {"color": "80,200,120,60", "outline": "0,140,70,255", "width": 0.5}
        p["label"] = lab(fieldname("name"), 9, (0, 110, 50), max_scale=25000, z=1)
    elif style.startswith("components_"):
        majors = profile.component_classes.drop_duplicates("major_code")[["major_code", "major_name"]]
        cats = []
        for i, (mc, mn) in enumerate(zip(majors["major_code"], majors["major_name"])):
            rgb = PALETTE[i % len(PALETTE)]
            if kind == "marker":
                sym = {"color": _rgba(rgb), "size": 1.8}
            elif kind == "line":
                sym = {"color": _rgba(rgb), "width": 0.8}
            else:
                sym = {"color": _rgba(rgb, 90), "outline": _rgba(rgb), "width": 0.4}
            cats.append({"value": mc, "label": f"{mc} {mn}", "symbol": sym, "rgb": rgb})
        p["categories"] = cats
        p["category_expr"] = f'left("{fieldname("class_code")}", 2)'
        p["other_symbol"] = ({"color": "150,150,150,255", "size": 1.5} if kind == "marker" else
                             {"color": "150,150,150,255", "width": 0.6} if kind == "line" else
                             {"color": "150,150,150,80", "outline": "120,120,120,255", "width": 0.3})
    elif style == "events":
        p["single"] = {"color": "220,20,60,255", "size": 3, "shape": "triangle"}
        p["label"] = lab(fieldname("name"), 8, (200, 20, 50), max_scale=10000, placement=6)
    elif style == "geocode_point":
        p["single"] = {"color": "120,120,120,255", "size": 1.2}
    else:
        p["single"] = ({"color": "120,120,120,255", "width": 0.4} if kind == "line" else outline((120, 120, 120), 0.3))
    return p


def render_qml(params: dict) -> str:
    return _env().get_template("layer.qml").render(**params)


def render_sld(params: dict, table: str, class_field: str | None) -> str:
    rules = []
    if params["categories"]:
        for c in params["categories"]:
            rgb = c["rgb"]
            rules.append({"label": c["label"], "value": c["value"], "field": class_field, "symbol": c["symbol"],
                          "hex": _hex(rgb), "fill_hex": _hex(rgb), "fill_opacity": 0.35, "stroke_hex": _hex(rgb),
                          "stroke_width": 1})
    else:
        s = params["single"]
        col = [int(v) for v in s["color"].split(",")]
        out = [int(v) for v in (s.get("outline") or s["color"]).split(",")]
        rules.append({"label": table, "value": None, "field": None, "symbol": s, "hex": _hex(col),
                      "fill_hex": _hex(col) if col[3] > 0 and s.get("fill_style") != "no" else None,
                      "fill_opacity": round(col[3] / 255, 2), "stroke_hex": _hex(out),
                      "stroke_width": max(1, round(float(s.get("width") or 0.26) * 3.78, 1))})
    return _env().get_template("layer.sld").render(kind=params["kind"], rules=rules, table=table, style_name=table,
                                                   label=params["label"])


def style_rows(specs, profile, *, catalog: str = "", schema: str = "") -> list:
    """``layer_styles`` rows for the spatial release tables (one default style per table)."""
    from .schema import field_name

    now = _dt.datetime.now().replace(microsecond=0)
    rows = []
    for spec in specs:
        if not spec.geometry or not spec.style:
            continue
        fn = lambda role, spec=spec: field_name(spec, profile, role)  # noqa: E731
        params = style_params(spec.style, spec.geometry, profile, fn)
        rows.append({"f_table_catalog": catalog, "f_table_schema": schema, "f_table_name": spec.name,
                     "f_geometry_column": "geom", "styleName": f"{spec.name} (surveytools)",
                     "styleQML": render_qml(params), "styleSLD": render_sld(params, spec.name, fn("class_code")),
                     "useAsDefault": True, "description": f"{spec.title_zh} / {spec.title_en}",
                     "owner": "", "ui": "", "update_time": now})
    return rows


#: the classes of validation error rows, in drawing order: (label, filter, RGB, visible by default).
#: Report-only rows (a scheme step with ``on_fail: ignore``) are listed but hidden by default, so
#: they never paint the map like real errors.
ERROR_CLASSES = (
    ("未处理错误 / Open error", "\"status\" = 'open' AND \"severity\" = 'error'", (220, 0, 0), True),
    ("未处理警告 / Open warning", "\"status\" = 'open' AND \"severity\" <> 'error'", (255, 140, 0), True),
    ("已修复 / Fixed", "\"status\" = 'fixed'", (60, 150, 60), True),
    ("已接受（误报） / Accepted (false positive)", "\"status\" = 'accepted'", (150, 150, 150), True),
    ("仅报告 / Reported only", "\"status\" = 'ignored'", (190, 190, 190), False),
)


def error_style_qml(geometry: str) -> str:
    """QML of a validation error layer (``point``/``line``/``polygon``): rule-based by status and
    severity, report-only rows switched off."""
    kind = KIND[geometry]
    rules = []
    for label, expr, rgb, visible in ERROR_CLASSES:
        strong = visible and rgb[0] > 200
        if kind == "marker":
            sym = {"color": _rgba(rgb, 230 if strong else 160), "outline": _rgba(rgb), "size": 3.2 if strong else 2.2,
                   "shape": "cross2" if strong else "circle"}
        elif kind == "line":
            sym = {"color": _rgba(rgb), "width": 1.2 if strong else 0.6}
        else:
            sym = {"color": _rgba(rgb, 60 if strong else 30), "outline": _rgba(rgb), "width": 0.8 if strong else 0.3}
        rules.append({"label": label, "filter": expr, "symbol": sym, "visible": visible})
    return _env().get_template("errors.qml").render(kind=kind, geometry_type=GEOM_TYPE[geometry], rules=rules)


def error_style_rows(layers: dict) -> list:
    """``layer_styles`` rows for error layers ``{table: geometry}`` (geometry ``point``/``line``/
    ``polygon``; tables without geometry get no style)."""
    now = _dt.datetime.now().replace(microsecond=0)
    return [{"f_table_catalog": "", "f_table_schema": "", "f_table_name": table, "f_geometry_column": "geom",
             "styleName": f"{table} (surveytools)", "styleQML": error_style_qml(geometry), "styleSLD": "",
             "useAsDefault": True, "description": "质检错误，按状态和严重程度 / Validation errors by status and severity",
             "owner": "", "ui": "", "update_time": now}
            for table, geometry in layers.items() if geometry in KIND]


def write_gpkg_styles(path, rows: list) -> None:
    """Put ``rows`` into the GeoPackage's ``layer_styles`` table (the QGIS schema), replacing the
    rows of the same tables and keeping every other style.  Inside a project transaction the
    table is written with the operation (through :mod:`surveytools.store`)."""
    import pyarrow as pa

    from ..gpkg import write_layer
    from ..store import read_dataframe, table_exists

    if not rows:
        return
    cols = ["f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName", "styleQML",
            "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time"]
    names = {r["f_table_name"] for r in rows}
    keep = []
    if table_exists(path, "layer_styles"):
        old = read_dataframe(path, "layer_styles", read_geometry=False)
        old = old[~old["f_table_name"].isin(names)] if "f_table_name" in old.columns else old.iloc[0:0]
        for rec in old.to_dict("records"):
            keep.append({c: rec.get(c) for c in cols})
    out = []
    for r in keep + list(rows):
        r = dict(r)
        r["useAsDefault"] = bool(r.get("useAsDefault")) if r.get("useAsDefault") is not None else False
        t = r.get("update_time")
        r["update_time"] = None if t is None or t != t else t
        out.append(r)
    types = {"useAsDefault": pa.bool_(), "update_time": pa.timestamp("s")}
    arrays = {c: pa.array([_plain(r.get(c), c) for r in out], types.get(c, pa.string())) for c in cols}
    write_layer(path, "layer_styles", pa.table(arrays), description="QGIS 图层样式 / QGIS layer styles")


def _plain(value, column):
    """A value of an existing ``layer_styles`` row as Arrow takes it."""
    import pandas as pd

    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if column == "update_time":
        return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None, microsecond=0)
    if column == "useAsDefault":
        return bool(value)
    return str(value)
