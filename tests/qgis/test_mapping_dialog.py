"""The mapping dialog: the proposal from the child process shown like Refactor Fields, exact
matches preselected, suggestions first, saved as the YAML intake reads (no hand editing)."""
import shutil
from pathlib import Path

import pyogrio
import pytest

ROOT = Path(__file__).resolve().parents[2]
SURVEY = ROOT / "sample_data" / "guixi" / "survey"


@pytest.fixture
def project(components_grid_project, tmp_path) -> Path:
    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    return p


def test_dialog_round_trip_to_a_real_intake(qgis_app, project, tmp_path):
    from qgis_plugin.mapping_dialog import SKIP, UNMAPPED, MappingDialog, propose

    data = propose(str(project), str(SURVEY / "components_a.gpkg"), out=str(tmp_path / "proposal.yaml"))
    dlg = MappingDialog(data, str(tmp_path / "mapping.yaml"))
    assert dlg.unmapped() == 2
    # exact matches preselected, unmapped values start unmapped with the suggestion listed first
    assert dlg.class_combo("行道树").currentData() == "0402"
    combo = dlg.class_combo("供水井盖")
    assert combo.currentData() == UNMAPPED and combo.itemData(0) == "0101"
    exact_fields = [f for f in data["fields"] if f["role"] and f["role"] != SKIP]
    assert exact_fields and all(dlg.field_combo(f["column"]).currentData() == f["role"] for f in exact_fields)
    # a contractor picks the suggestion and skips the other value, then saves
    dlg.set_class("供水井盖", combo.itemData(0))
    dlg.set_class("雨水篦子", SKIP)
    assert dlg.unmapped() == 0
    path = dlg.save()
    text = Path(path).read_text(encoding="utf-8")
    assert '"供水井盖": "0101"' in text and '"雨水篦子": "skip"' in text
    # the CLI's intake reads it (in the child, like every operation) and imports
    from qgis_plugin.tasks import run_operation

    res = run_operation("components_intake", {"project": str(project), "source": str(SURVEY / "components_a.gpkg"),
                                              "mapping": path})
    assert res["imported"]["component_point"] == 12480 - 3
    rej = pyogrio.read_dataframe(str(project), layer="intake_rejects", read_geometry=False)
    assert (rej["reason"] == "skipped_by_mapping").sum() == 3


def test_only_unmapped_filter_and_yaml_quoting(qgis_app, tmp_path):
    import yaml

    from qgis_plugin.mapping_dialog import UNMAPPED, MappingDialog

    data = {"profile": "cjt", "layer": "component", "source": "x.csv",
            "fields": [{"column": "小类: 代码", "role": "class_code", "how": "exact", "suggestions": []},
                       {"column": "备注 #1", "role": None, "how": "",
                        "suggestions": [{"role": "note", "score": 0.8, "why": "similar"}]}],
            "classes": [{"value": "0104", "column": "小类: 代码", "count": 2, "code": "0104", "how": "exact",
                         "suggestions": []}],
            "targets": {"fields": [{"role": "class_code", "name": "ClassCode", "alias_zh": "小类代码",
                                    "alias_en": "class code"},
                                   {"role": "note", "name": "Note", "alias_zh": "备注", "alias_en": "note"}],
                        "classes": [{"code": "0104", "name": "雨水箅子"}], "skip": "skip"}}
    dlg = MappingDialog(data, str(tmp_path / "m.yaml"))
    assert dlg.field_combo("备注 #1").currentData() == UNMAPPED
    assert dlg.field_combo("备注 #1").itemData(0) == "note"  # the suggestion first, not applied
    dlg.only_unmapped.setChecked(True)
    assert not dlg.fields_table.isRowHidden(1) and dlg.fields_table.isRowHidden(0)
    doc = yaml.load(Path(dlg.save()).read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    assert doc["fields"] == {"小类: 代码": "class_code", "备注 #1": "UNMAPPED"}
    assert doc["classes"] == {"0104": "0104"} and doc["profile"] == "cjt"
