#!/usr/bin/env python3
"""Derive the class tables of standards/{cjt,gbt30428,gbt47678} from the research tables.

Input: ``../shared/reference/component_classes.csv`` and ``event_classes.csv`` (research notes
with a source on every row).  Output: the profiles' ``component_classes.csv`` and
``event_classes.csv``.  The mapping from the research notes to a provenance tag is written out
here so it can be reviewed:

* CJ/T 214-2007 components: a code seen in S1 *and* S2 or S3 -> ``corroborated``; only in S1 ->
  ``inferred``.  Events: ``corroborated:`` in the notes -> ``corroborated``; a single source ->
  ``inferred``.
* GB/T 30428.2-2013: the component table was not retrieved; it is assumed unchanged from CJ/T
  214-2007 (``inferred``).  Events: the 14 codes of S5 (``inferred``: attributed to 30428.2 by
  inference), plus the 市容环境/宣传广告/施工管理/街面秩序 minors carried into GB/T 47678.5 majors
  06–09, mapped back to majors 01–04 (``inferred``).
* GB/T 47678.5-2026: as transcribed in S6 (``confirmed`` in the sense of standards.md: seen in a
  retrieved source, cited); numbering gaps are left out.
* Geometry and accuracy grade: the research has no per-class source for them; they are inferred
  from the class name and marked so in ``notes``.

The script is deterministic; run it again after the research tables change.
"""
import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "reference"
COLS = ["code", "major_code", "major_name", "name", "geometry", "accuracy", "aliases", "status",
        "provenance", "source", "notes"]

POINT = re.compile(r"井盖|箅子|篦子|杆|灯|箱|桩|牌|亭|消防|信号|电话|报刊|岗亭|树|站|公厕|厕所|座椅|坐椅|雕塑|"
                   r"喷泉|水井|机|道钉|警示|反光|垃圾|废物|阀|栓|窨井|塔|屏|监控|桶|井|亭|柱|架|设施|碑|门")
LINE = re.compile(r"护栏|隔离|围栏|墙|栏杆|线|管|沟|渠|带|绿篱|隔音|声屏障|隧道")
POLY = re.compile(r"绿地|广场|停车场|公园|场地|水域|地下室|空地|用地|花坛|林|河|湖|草坪|桥|工地|区|场|房|庭院|楼")


def geometry_for(name: str, hint: str) -> str:
    hint = (hint or "").lower()
    if hint.startswith("point"):
        if "polygon" in hint:
            return "polygon" if POLY.search(name) else "point"
        return "point"
    if hint.startswith("line"):
        return "line"
    if hint.startswith("polygon"):
        return "polygon"
    if LINE.search(name):
        return "line"
    if POLY.search(name) and not re.search(r"井盖|箅子|牌|灯|杆|桩|亭", name):
        return "polygon"
    return "point"


def accuracy_for(name: str, geom: str) -> str:
    if re.search(r"井盖|箅子|篦子|窨井|阀|栓", name):
        return "A"
    if geom == "point":
        return "B"
    return "C"


def read(name):
    with open(REF / name, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write(path: Path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: r["code"])
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, COLS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in COLS})
    print(f"{path.relative_to(ROOT)}: {len(rows)} rows")


def comp_row(r, provenance, notes_extra=""):
    code = r["minor_code"]
    g = geometry_for(r["minor_name"], r["geometry"])
    notes = "; ".join(x for x in [r["notes"], f"geometry {g} and accuracy grade inferred from the class name",
                                  notes_extra] if x)
    return {"code": code, "major_code": r["major_code"], "major_name": r["major_name"], "name": r["minor_name"],
            "geometry": g, "accuracy": accuracy_for(r["minor_name"], g), "aliases": "", "status": "standard",
            "provenance": provenance, "source": r["source"], "notes": notes}


def main():
    comps = read("component_classes.csv")
    events = read("event_classes.csv")
    # --- CJ/T 214-2007 components ---
    cjt = []
    for r in comps:
        if not r["standard_version"].startswith("CJ/T 214-2007 (reconstructed;"):
            continue
        n = r["notes"]
        prov = "corroborated" if ("S2 same code" in n or "S3 same position" in n) else "inferred"
        row = comp_row(r, prov)
        m = re.search(r"S2 name: ([^)]+)\)", n)
        if m:
            row["aliases"] = m.group(1)
        if row["name"] == "雨水算子":  # S1 typo noted in standards.md
            row["name"], row["aliases"] = "雨水箅子", "雨水算子"
        cjt.append(row)
    write(ROOT / "standards/cjt/component_classes.csv", cjt)
    # --- CJ/T 214-2007 events ---
    cjt_e = []
    for r in events:
        if not r["standard_version"].startswith("CJ/T 214-2007 (reconstructed;"):
            continue
        prov = "corroborated" if "corroborated:" in r["notes"] else "inferred"
        cjt_e.append({"code": r["minor_code"], "major_code": r["major_code"], "major_name": r["major_name"],
                      "name": r["minor_name"], "geometry": "point", "accuracy": "", "aliases": "",
                      "status": "catch-all" if r["minor_code"].endswith("99") else "standard",
                      "provenance": prov, "source": r["source"], "notes": r["notes"]})
    write(ROOT / "standards/cjt/event_classes.csv", cjt_e)
    # --- GB/T 30428.2-2013 ---
    g30 = [dict(r, provenance="inferred",
                notes=r["notes"] + "; GB/T 30428.2-2013 component table not retrieved: assumed unchanged from CJ/T 214-2007")
           for r in cjt]
    write(ROOT / "standards/gbt30428/component_classes.csv", g30)
    g30e = {}
    major_map = {"06": ("01", "市容环境"), "07": ("02", "宣传广告"), "08": ("03", "施工管理"), "09": ("04", "街面秩序")}
    for r in events:
        v = r["standard_version"]
        if v.startswith("GB/T 47678.5-2026") and r["major_code"] in major_map and not r["minor_name"].startswith("("):
            mj, mname = major_map[r["major_code"]]
            minor = r["minor_code"][2:]
            if minor[0] != "0":
                continue  # a 3-digit minor >= 100 cannot map to 2 digits
            code = mj + minor[1:]
            g30e[code] = {"code": code, "major_code": mj, "major_name": mname, "name": r["minor_name"],
                          "geometry": "point", "accuracy": "", "aliases": "", "status": "standard",
                          "provenance": "inferred", "source": r["source"],
                          "notes": f"mapped back from GB/T 47678.5-2026 {r['minor_code']} (majors 06-09 carry 30428.2 majors "
                                   "01-04 with the same minor numbers, standards.md §0.3)"}
    for r in events:
        if r["standard_version"].startswith("GB/T 30428.2-2013 (partial;"):
            code = r["minor_code"]
            prev = g30e.get(code)
            g30e[code] = {"code": code, "major_code": r["major_code"], "major_name": r["major_name"],
                          "name": r["minor_name"], "geometry": "point", "accuracy": "",
                          "aliases": prev["name"] if prev and prev["name"] != r["minor_name"] else "",
                          "status": "standard", "provenance": "inferred", "source": r["source"],
                          "notes": r["notes"] + ("; also " + prev["notes"] if prev else "")}
    write(ROOT / "standards/gbt30428/event_classes.csv", list(g30e.values()))
    # --- GB/T 47678.5-2026 ---
    g47 = [comp_row(r, "confirmed", "single-repo transcription of the standard's PDF (S6): verify against the text")
           for r in comps if r["standard_version"].startswith("GB/T 47678.5-2026 (") and not r["minor_name"].startswith("(")]
    write(ROOT / "standards/gbt47678/component_classes.csv", g47)
    g47e = []
    for r in events:
        if r["standard_version"].startswith("GB/T 47678.5-2026") and r["minor_code"] and not r["minor_name"].startswith("("):
            g47e.append({"code": r["minor_code"], "major_code": r["major_code"], "major_name": r["major_name"],
                         "name": r["minor_name"], "geometry": "point", "accuracy": "", "aliases": "",
                         "status": "standard", "provenance": "confirmed", "source": r["source"],
                         "notes": r["notes"] + "; single-repo transcription (S6): verify against the text"})
    write(ROOT / "standards/gbt47678/event_classes.csv", g47e)


if __name__ == "__main__":
    main()
