"""Writes the golden validation fixtures: one folder per rule with

* ``case.yaml``           profile, county, CRS, rule parameters, attribute tables (departments …)
* ``input_<layer>.geojson`` the input layers (profile field names; ``fid`` as a property)
* ``expected.geojson``    the expected error rows: rule_id, layer, fid, feature_id, field, value
                          and the expected error geometry (null when the row has none)

Every input and every expected geometry below is written by hand (literal coordinates): the
expected rows are NOT produced by running the rules.  Run this script only to change a case:
``.venv/bin/python tests/golden/validate/build_golden.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
X0, Y0 = 523000.0, 3130000.0  # inside EPSG:4548 (CGCS2000 / 3-degree GK CM 117E), near 贵溪
CRS = "EPSG:4548"


def pt(x, y):
    return {"type": "Point", "coordinates": [X0 + x, Y0 + y]}


def box(x0, y0, x1, y1):
    ring = [[X0 + x0, Y0 + y0], [X0 + x1, Y0 + y0], [X0 + x1, Y0 + y1], [X0 + x0, Y0 + y1], [X0 + x0, Y0 + y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def line(*xy):
    return {"type": "LineString", "coordinates": [[X0 + x, Y0 + y] for x, y in xy]}


def comp(fid, objid, geom, **kw):
    """A component with every mandatory cjt field filled."""
    props = {"fid": fid, "ObjID": objid, "ClassCode": objid[6:10] if len(objid) == 16 else "", "ObjName": "上水井盖",
             "DeptName1": "贵溪市住房和城乡建设局", "BGID": "36068100100101", "ObjState": "完好",
             "ORDate": "2020-01-01", "CHDate": "2024-05-01"}
    props.update(kw)
    return props, geom


def grid(fid, code, geom, **kw):
    props = {"fid": fid, "BGID": code, "BGArea": 10000.0, "ORDate": "2024-06-01"}
    props.update(kw)
    return props, geom


def community(fid, code, geom):
    return {"fid": fid, "CommCode": code, "CommName": f"社区{code[-3:]}", "StreetCode": code[:9],
            "StreetName": "花园街道"}, geom


def street(fid, code, geom):
    return {"fid": fid, "StreetCode": code, "StreetName": "花园街道"}, geom


def expect(rule, layer, fid=None, feature_id=None, field=None, value=None, geometry=None):
    return {"rule_id": rule, "layer": layer, "fid": fid, "feature_id": feature_id, "field": field, "value": value}, geometry


def fc(features):
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features]}


CASES = {}


def case(rule, layers, expected, params=None, tables=None, checkpoints=None, profile="cjt", county="360681"):
    CASES[rule] = dict(layers=layers, expected=expected, params=params or {}, tables=tables or {},
                       checkpoints=checkpoints, profile=profile, county=county)


C1 = "360681001001"
G1, G2 = C1 + "01", C1 + "02"
COMMS = [community(1, C1, box(0, 0, 200, 100))]
GRIDS = [grid(1, G1, box(0, 0, 100, 100)), grid(2, G2, box(100, 0, 200, 100))]

case("completeness.layers",
     {"community": COMMS, "unit_grid": [], "component_point": [comp(1, "3606810101000001", pt(10, 10))]},
     [expect("completeness.layers", "unit_grids")])

case("codes.format",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "360681010100001", pt(20, 10)),
                          comp(3, "36068101010000O1", pt(30, 10))]},
     [expect("codes.format", "components_point", 2, "360681010100001", "ObjID", "360681010100001", pt(20, 10)),
      expect("codes.format", "components_point", 3, "36068101010000O1", "ObjID", "36068101010000O1", pt(30, 10))],
     params={"kinds": ["component_id"]})

case("codes.duplicate",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "3606810101000002", pt(20, 10)),
                          comp(3, "3606810101000001", pt(30, 10))]},
     [expect("codes.duplicate", "components_point", 1, "3606810101000001", "ObjID", "3606810101000001", pt(10, 10)),
      expect("codes.duplicate", "components_point", 3, "3606810101000001", "ObjID", "3606810101000001", pt(30, 10))],
     params={"kinds": ["component_id"]})

case("codes.missing_serial",
     {"unit_grid": [grid(1, C1 + "01", box(0, 0, 10, 10)), grid(2, C1 + "02", box(10, 0, 20, 10)),
                    grid(3, C1 + "05", box(20, 0, 30, 10)), grid(4, "360681001002" + "01", box(30, 0, 40, 10))]},
     [expect("codes.missing_serial", "unit_grids", None, C1, "BGID", f"{C1}03–{C1}04")],
     params={"kinds": ["unit_grid"]})

case("codes.county_prefix",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "3606020101000002", pt(20, 10))]},
     [expect("codes.county_prefix", "components_point", 2, "3606020101000002", "ObjID", "3606020101000002", pt(20, 10))],
     params={"kinds": ["component_id"]})

case("codes.class_unknown",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "3606810199000002", pt(20, 10), ClassCode="")]},
     [expect("codes.class_unknown", "components_point", 2, "3606810199000002", "ObjID", "3606810199000002", pt(20, 10))])

case("codes.grid_reference",
     {"unit_grid": GRIDS, "component_point": [comp(1, "3606810101000001", pt(10, 10), BGID=G1),
                                              comp(2, "3606810101000002", pt(20, 10), BGID=C1 + "99")]},
     [expect("codes.grid_reference", "components_point", 2, "3606810101000002", "BGID", C1 + "99", pt(20, 10))])

case("codes.grid_community_prefix",
     {"community": [community(1, C1, box(0, 0, 100, 100)), community(2, "360681001002", box(100, 0, 200, 100))],
      "unit_grid": [grid(1, C1 + "01", box(0, 0, 100, 100)), grid(2, C1 + "02", box(100, 0, 200, 100))]},
     [expect("codes.grid_community_prefix", "unit_grids", 2, C1 + "02", "BGID", C1 + "02", box(100, 0, 200, 100))])

case("attributes.mandatory",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "3606810101000002", pt(20, 10), DeptName1=""),
                          comp(3, "3606810101000003", pt(30, 10), ObjState=None)]},
     [expect("attributes.mandatory", "components_point", 2, "3606810101000002", "DeptName1", "", pt(20, 10)),
      expect("attributes.mandatory", "components_point", 3, "3606810101000003", "ObjState", "", pt(30, 10))],
     params={"layers": ["component"]})

LONG = "很" * 51
case("attributes.type_length",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "3606810101000002", pt(20, 10), ObjName=LONG)]},
     [expect("attributes.type_length", "components_point", 2, "3606810101000002", "ObjName", LONG, pt(20, 10))],
     params={"layers": ["component"]})

case("attributes.domain",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "3606810101000002", pt(20, 10), ObjState="坏了")]},
     [expect("attributes.domain", "components_point", 2, "3606810101000002", "ObjState", "坏了", pt(20, 10))])

case("attributes.dates",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)),
                          comp(2, "3606810101000002", pt(20, 10), ORDate="2024-06-01", CHDate="2024-05-01"),
                          comp(3, "3606810101000003", pt(30, 10), ORDate="1900-01-01", CHDate="2024-05-01")]},
     [expect("attributes.dates", "components_point", 2, "3606810101000002", "ORDate", "2024-06-01", pt(20, 10)),
      expect("attributes.dates", "components_point", 3, "3606810101000003", "ORDate", "1900-01-01", pt(30, 10))],
     params={"layers": ["component"]})

DEPTS = {"departments": [{"name": "贵溪市住房和城乡建设局", "code": "GX020", "role": "主管", "parent": "", "contact": ""},
                         {"name": "贵溪市城市管理局", "code": "GX010", "role": "主管", "parent": "", "contact": ""},
                         # a department known by its credit code and by the registry's local code
                         {"dept_id": "GX012", "name": "贵溪市路灯管理所", "code": "12360681163949528P", "role": "权属",
                          "parent": "", "contact": ""}]}
case("attributes.department_registry",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10), DeptCode1="GX020"),
                          comp(2, "3606810101000002", pt(20, 10), DeptName1="不存在局"),
                          comp(3, "3606810101000003", pt(30, 10), DeptCode1="XX999"),
                          comp(4, "3606810101000004", pt(40, 10), DeptCode1="GX010"),
                          comp(5, "3606810101000005", pt(50, 10), DeptCode1="GX012", DeptName1="贵溪市路灯管理所"),
                          comp(6, "3606810101000006", pt(60, 10), DeptCode1="12360681163949528P",
                               DeptName1="贵溪市路灯管理所")]},
     [expect("attributes.department_registry", "components_point", 2, "3606810101000002", "DeptName1", "不存在局", pt(20, 10)),
      expect("attributes.department_registry", "components_point", 3, "3606810101000003", "DeptCode1", "XX999", pt(30, 10)),
      expect("attributes.department_registry", "components_point", 4, "3606810101000004", "DeptCode1", "GX010", pt(40, 10))],
     tables=DEPTS)

case("attributes.uscc",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10), DeptCode1="91110108551385082Q"),
                          comp(2, "3606810101000002", pt(20, 10), DeptCode1="91110108551385082A"),
                          comp(3, "3606810101000003", pt(30, 10), DeptCode1="GX020")]},
     [expect("attributes.uscc", "components_point", 2, "3606810101000002", "DeptCode1", "91110108551385082A", pt(20, 10))])

case("geometry.empty",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "3606810101000002", None)]},
     [expect("geometry.empty", "components_point", 2, "3606810101000002")],
     params={"layers": ["component"]})

BOWTIE = {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 10, Y0 + 10], [X0 + 10, Y0], [X0, Y0 + 10], [X0, Y0]]]}
case("geometry.valid",
     {"component_polygon": [comp(1, "3606810405000001", box(20, 0, 30, 10), ObjName="绿地"),
                            comp(2, "3606810405000002", BOWTIE, ObjName="绿地")]},
     [expect("geometry.valid", "components_polygon", 2, "3606810405000002", None, None, pt(5, 5))],
     params={"layers": ["component"]})

TWO = {"type": "MultiPolygon", "coordinates": [box(0, 0, 10, 10)["coordinates"], box(20, 0, 30, 10)["coordinates"]]}
case("geometry.single_part",
     {"unit_grid": [grid(1, G1, TWO), grid(2, G2, box(40, 0, 50, 10))]},
     [expect("geometry.single_part", "unit_grids", 1, G1, None, "2", TWO)],
     params={"layers": ["unit_grid"]})

case("geometry.class_type",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "3606810405000001", pt(20, 10), ObjName="绿地")]},
     [expect("geometry.class_type", "components_point", 2, "3606810405000001", "ObjID", "0405", pt(20, 10))])

case("geometry.extent",
     {"community": COMMS, "component_point": [comp(1, "3606810101000001", pt(10, 10)),
                                              comp(2, "3606810101000002", pt(80000, 15000)),
                                              comp(3, "3606810101000003", pt(200.5, 50))]},
     [expect("geometry.extent", "components_point", 2, "3606810101000002", None, None, pt(80000, 15000))],
     params={"layers": ["component"], "tolerance_m": 1.0})

case("geometry.crs_area",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "3606810101000002", pt(-400000, 0))]},
     [expect("geometry.crs_area", "components_point", 2, "3606810101000002", None, None, pt(-400000, 0))],
     params={"layers": ["component"]})

case("geometry.duplicate",
     {"component_point": [comp(1, "3606810101000001", pt(10, 10)), comp(2, "3606810101000002", pt(10.2, 10)),
                          comp(3, "3606810104000001", pt(10.1, 10), ObjName="雨水箅子"),
                          comp(4, "3606810101000003", pt(12, 10))],
      "component_line": [comp(1, "3606810211000001", line((0, 0), (50, 0)), ObjName="交通护栏"),
                         comp(2, "3606810211000002", line((0, 0.1), (50, 0.1)), ObjName="交通护栏")]},
     [expect("geometry.duplicate", "components_point", 2, "3606810101000002", None, "3606810101000001", pt(10.2, 10)),
      expect("geometry.duplicate", "components_line", 2, "3606810211000002", None, "3606810211000001", line((0, 0.1), (50, 0.1)))],
     params={"tolerance_m": 0.3})

case("topology.grid_gaps",
     {"community": COMMS, "unit_grid": [grid(1, G1, box(0, 0, 100, 100)), grid(2, G2, box(110, 0, 200, 100))]},
     [expect("topology.grid_gaps", "unit_grids", None, None, None, "1000.0", box(100, 0, 110, 100))])

# a 0.5 m strip between two digitised communities (and nothing else: the outer corners stay sharp)
case("topology.community_gaps",
     {"community": [community(1, C1, box(0, 0, 100, 100)), community(2, "360681001002", box(100.5, 0, 200, 100))]},
     [expect("topology.community_gaps", "communities", None, None, None, "50.0", box(100, 0, 100.5, 100))])

# street 360681999 does not exist (NBS 2023) and is not in the street layer
case("codes.community_street",
     {"community": [community(1, C1, box(0, 0, 100, 100)), community(2, "360681999001", box(100, 0, 200, 100))],
      "street": [street(1, "360681001", box(0, 0, 100, 100))]},
     [expect("codes.community_street", "communities", 2, "360681999001", "CommCode", "360681999", box(100, 0, 200, 100))])

case("topology.grid_overlaps",
     {"unit_grid": [grid(1, G1, box(0, 0, 100, 100)), grid(2, G2, box(90, 0, 200, 100)), grid(3, C1 + "03", box(200, 0, 300, 100))]},
     [expect("topology.grid_overlaps", "unit_grids", 1, G1, "BGID", G2, box(90, 0, 100, 100))])

case("topology.grid_crosses_boundary",
     {"community": [community(1, C1, box(0, 0, 100, 100)), community(2, "360681001002", box(100, 0, 200, 100))],
      "street": [street(1, "360681001", box(0, 0, 200, 100))],
      "unit_grid": [grid(1, G1, box(0, 0, 120, 100)), grid(2, "36068100100201", box(120, 0, 200, 100)),
                    grid(3, G2, box(300, 0, 310, 10))]},
     [expect("topology.grid_crosses_boundary", "unit_grids", 1, G1, None, C1, box(100, 0, 120, 100)),
      expect("topology.grid_crosses_boundary", "unit_grids", 3, G2, None, "", box(300, 0, 310, 10)),
      expect("topology.grid_crosses_boundary", "unit_grids", 3, G2, None, "", box(300, 0, 310, 10))],
     params={"boundaries": ["community", "street"]})

case("topology.grid_area",
     {"unit_grid": [grid(1, G1, box(0, 0, 100, 100)), grid(2, G2, box(100, 0, 110, 10))]},
     [expect("topology.grid_area", "unit_grids", 2, G2, None, "100.0", box(100, 0, 110, 10))])

# G2 lies 60 % in W1 (its home) and 40 % in W2: the W2 piece is reported; W2 also reaches 20 m past the grids
case("topology.aggregate_whole_grids",
     {"unit_grid": GRIDS,
      "work_grid": [({"fid": 1, "WGCode": "W1", "Area": 16000.0, "Members": G1}, box(0, 0, 160, 100)),
                    ({"fid": 2, "WGCode": "W2", "Area": 4800.0, "Members": G2}, box(160, 0, 200, 120))]},
     [expect("topology.aggregate_whole_grids", "unit_grids", 2, G2, None, G2, box(160, 0, 200, 100)),
      expect("topology.aggregate_whole_grids", "work_grids", 2, "W2", None, "W2", box(160, 100, 200, 120))],
     params={"layers": ["work_grid"]})

case("relations.component_in_grid",
     {"unit_grid": GRIDS, "component_point": [comp(1, "3606810101000001", pt(50, 50), BGID=G1),
                                              comp(2, "3606810101000002", pt(150, 50), BGID=G1),
                                              comp(3, "3606810101000003", pt(100, 50), BGID=G1)]},
     [expect("relations.component_in_grid", "components_point", 2, "3606810101000002", "BGID", G1, pt(150, 50))])

# accuracy: four 上水井盖 (grade A, 0.5 m); check points 0.6, 0.6, 0.6 and 1.2 m away (RMS = sqrt(0.63) = 0.794 m)
case("accuracy.rms",
     {"component_point": [comp(k, f"36068101010000{k:02d}", pt(10 * k, 10)) for k in range(1, 5)]},
     [expect("accuracy.rms", "checkpoints", None, "A", "grade", "0.794"),
      expect("accuracy.rms", "components_point", 4, "3606810101000004", None, "1.2", line((40, 11.2), (40, 10))),
      expect("accuracy.rms", "checkpoints", 5, "3606810101000099", None, "3606810101000099", pt(0, 0))],
     checkpoints=[({"ObjID": f"36068101010000{k:02d}"}, pt(10 * k, 10 + (1.2 if k == 4 else 0.6))) for k in range(1, 5)]
     + [({"ObjID": "3606810101000099"}, pt(0, 0))])


# field GNSS accuracy: five 上水井盖 (grade A, 0.5 m); accuracy rows 0.03 (fine), 2.5 (bad), none, 0.9 then a
# later 0.4 (the later counts: fine), 0.6 (bad)
case("accuracy.field_gnss",
     {"component_point": [comp(k, f"36068101010000{k:02d}", pt(10 * k, 10)) for k in range(1, 6)]},
     [expect("accuracy.field_gnss", "components_point", 2, "3606810101000002", None, "2.5", pt(20, 10)),
      expect("accuracy.field_gnss", "components_point", 5, "3606810101000005", None, "0.6", pt(50, 10))],
     tables={"component_accuracy": [
         {"component_id": "3606810101000001", "layer": "component_point", "h_accuracy": 0.03, "fix_quality": "RTK fixed",
          "batch": "F20261101-001"},
         {"component_id": "3606810101000002", "layer": "component_point", "h_accuracy": 2.5, "fix_quality": "GPS",
          "batch": "F20261101-001"},
         {"component_id": "3606810101000004", "layer": "component_point", "h_accuracy": 0.9, "fix_quality": "DGPS",
          "batch": "F20261101-001"},
         {"component_id": "3606810101000004", "layer": "component_point", "h_accuracy": 0.4, "fix_quality": "RTK float",
          "batch": "F20261102-002"},
         {"component_id": "3606810101000005", "layer": "component_point", "h_accuracy": 0.6, "fix_quality": None,
          "batch": "F20261101-001"}]})

def main():
    for rule, c in CASES.items():
        d = HERE / rule
        d.mkdir(exist_ok=True)
        for old in d.glob("*.geojson"):
            old.unlink()
        meta = {"rule": rule, "profile": c["profile"], "county": c["county"], "crs": CRS, "params": c["params"],
                "tables": c["tables"], "layers": sorted(c["layers"])}
        (d / "case.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")
        for key, feats in c["layers"].items():
            (d / f"input_{key}.geojson").write_text(json.dumps(fc(feats), ensure_ascii=False, indent=1), encoding="utf-8")
        if c["checkpoints"]:
            (d / "checkpoints.geojson").write_text(json.dumps(fc(c["checkpoints"]), ensure_ascii=False, indent=1),
                                                   encoding="utf-8")
        (d / "expected.geojson").write_text(json.dumps(fc(c["expected"]), ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {len(CASES)} golden cases to {HERE}")


if __name__ == "__main__":
    main()
