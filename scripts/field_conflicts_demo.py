"""Build a project with field conflicts for the docs screenshots (venv python): ``python scripts/field_conflicts_demo.py . /tmp/demo``
(then ``QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/field_plugin_screenshots.py . /tmp/demo/guixi.gpkg docs/img``)."""
import json, shutil, sys
from pathlib import Path
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
import export_fixture
import field_support as fs
from surveytools.cli import main

d = Path(sys.argv[2]); d.mkdir(parents=True, exist_ok=True)
p = d / "guixi.gpkg"
if not p.exists():
    export_fixture.build(p)
import sqlite3
area = sqlite3.connect(p).execute("SELECT substr(BGID,1,12) c FROM components_point WHERE BGID IS NOT NULL GROUP BY c ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
out = d / "pkgs"
if out.exists(): shutil.rmtree(out)
out.mkdir()
from surveytools.field.package import package
from surveytools.field.returns import field_return
package(str(p), "community", str(out), areas=area, surveyor="张三", qgz=False)
folder = out / area
m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
feats = m["layers"]["component_point"]["features"]
uu = sorted(feats)[:3]
con = fs.connect(folder / "survey.gpkg")
fs.update(con, "components_point", uu[0], Note="外业：盖板裂开", ObjState="破损", surveyor="张三")
fs.update(con, "components_point", uu[1], Material="铸铁", surveyor="张三")
fs.move(con, "components_point", uu[1], 1.5, 0.5)
fs.delete(con, "components_point", uu[2])
con.close()
pc = fs.connect(p)
pc.execute("UPDATE components_point SET Note = '内业：已派单维修' WHERE ObjID = ?", (feats[uu[0]]["id"],))
pc.execute("UPDATE components_point SET Material = '复合材料' WHERE ObjID = ?", (feats[uu[1]]["id"],))
pc.execute("UPDATE components_point SET ObjState = '破损' WHERE ObjID = ?", (feats[uu[2]]["id"],))
pc.close()
print(field_return(str(p), [str(folder)]))
print(p)
