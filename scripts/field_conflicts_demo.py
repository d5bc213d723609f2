"""Build a project with field conflicts for the docs screenshots (venv python):
``python scripts/field_conflicts_demo.py . /tmp/demo``, then
``QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/field_plugin_screenshots.py . /tmp/demo/guixi.gpkg docs/img``."""
import json
import shutil
import sqlite3
import sys
from pathlib import Path


def main(root: str, folder: str) -> None:
    sys.path[:0] = [root, root + "/tests"]
    import export_fixture
    import field_support as fs

    from surveytools.field.package import package
    from surveytools.field.returns import field_return

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    p = d / "guixi.gpkg"
    if not p.exists():
        export_fixture.build(p)
    con = sqlite3.connect(p)
    area = con.execute("SELECT substr(BGID, 1, 12) c FROM components_point WHERE BGID IS NOT NULL GROUP BY c "
                       "ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    con.close()
    out = d / "pkgs"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    package(str(p), "community", str(out), areas=area, surveyor="张三", qgz=False)
    pkg = out / area
    feats = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))["layers"]["component_point"]["features"]
    uu = sorted(feats)[:3]
    con = fs.connect(pkg / "survey.gpkg")  # the field's edits
    fs.update(con, "components_point", uu[0], Note="外业：盖板裂开", ObjState="破损", surveyor="张三")
    fs.update(con, "components_point", uu[1], Material="铸铁", surveyor="张三")
    fs.move(con, "components_point", uu[1], 1.5, 0.5)
    fs.delete(con, "components_point", uu[2])
    con.close()
    con = fs.connect(p)  # the office's edits of the same components
    con.execute("UPDATE components_point SET Note = '内业：已派单维修' WHERE ObjID = ?", (feats[uu[0]]["id"],))
    con.execute("UPDATE components_point SET Material = '复合材料' WHERE ObjID = ?", (feats[uu[1]]["id"],))
    con.execute("UPDATE components_point SET ObjState = '破损' WHERE ObjID = ?", (feats[uu[2]]["id"],))
    con.close()
    print(field_return(str(p), [str(pkg)]))
    print(p)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
