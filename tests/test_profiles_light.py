"""The standard-library profile reader (used by the QGIS plugin inside QGIS's own Python) agrees
with the full loader on every shipped profile, and imports nothing outside the standard library."""
import subprocess
import sys

import pytest
import yaml

from surveytools.codeformat import format_parts, serial_of
from surveytools.codes import format_code
from surveytools.profiles import list_profiles, load_profile
from surveytools.profiles.light import find_standards_dir, load_light_profile
from surveytools.profiles.miniyaml import MiniYamlError, loads

PROFILES = [p["id"] for p in list_profiles()]
CLASS_KEYS = ["code", "major_code", "major_name", "name", "geometry", "accuracy", "aliases", "status", "origin"]


def _yaml_files():
    """Every YAML file of the standards: profiles, layer definitions, geocoding settings, check
    schemes and the rule catalogue (the plugin reads these inside QGIS)."""
    return sorted(find_standards_dir().glob("**/*.yaml"))


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(p.parents[1])))
def test_miniyaml_reads_every_standards_file_like_pyyaml(path):
    text = path.read_text(encoding="utf-8")
    assert loads(text, str(path)) == yaml.safe_load(text)


def test_miniyaml_values_and_refusals():
    text = ('a: 1\nb: "x # not a comment"  # a comment\nc: [[county, 6], [major, 2]]\n'
            "d: {zh: 街道, en: 'it''s'}\ne:\n  - {code: X}\n  - plain text\nf: yes\ng: ~\nh: 1.5\n"
            'i:\n- k: v\n  l: [1, 2]\n"0101": 供水井盖\n')
    assert loads(text) == yaml.safe_load(text)
    for text in ("a: |\n  x\n  y\n\nb: 1\n", "a: >\n  x\n  y\n\n  z\n", "a: |-\n  x\n", "a: >+\n  x\n\n\nb: 2\n",
                 "- >-\n  long\n  text\n- b\n", "a: plain\n  continued\n", "k: {a: 1,\n    b: 2}\n",
                 "a: |\n  x\n   indented\n  y\n", 'a: "q\n  r"\n'):
        assert loads(text) == yaml.safe_load(text), text
    for bad in ("a: &x 1\n", "a: !tag 1\n", "a: [1, 2\n", "a: |x\n  t\n"):
        with pytest.raises(MiniYamlError):
            loads(bad, "bad.yaml")


@pytest.mark.parametrize("pid", PROFILES)
def test_light_profile_agrees_with_the_full_loader(pid):
    full, light = load_profile(pid), load_light_profile(pid)
    assert light.id == full.id and light.chain == full.chain
    assert light.codes == full.codes
    assert light.layers == full.layers
    assert light.defaults == full.defaults and light.extension == full.extension
    for kind in ("component_classes", "event_classes"):
        df = getattr(full, kind)
        want = [{k: str(r[k]) for k in CLASS_KEYS} for r in df.to_dict("records")]
        got = [{k: str(r.get(k, "")) for k in CLASS_KEYS} for r in getattr(light, kind)]
        assert got == want, kind
    cols = ["layer", "role", "name", "alias_zh", "alias_en", "type", "length", "constraint", "domain"]
    assert [{c: r[c] for c in cols} for r in light.fields] == full.fields[cols].to_dict("records")
    assert [(d["domain"], d["value"]) for d in light.domains] == list(zip(full.domains["domain"], full.domains["value"]))
    for layer in ("component", "unit_grid", "event"):
        for role in ("component_id", "class_code", "grid_code", "name", "street_code", "community_name"):
            assert light.field(layer, role) == full.field(layer, role)
    code = full.component_classes["code"].iloc[-1]
    assert light.component_class(code)["name"] == full.component_class(code)["name"]


def test_code_formatting_is_one_implementation():
    full, light = load_profile("guixi"), load_light_profile("guixi")
    a = format_code("component_id", full, county="360681", class_code="0102", serial=15)
    assert a == format_parts("component_id", light, county="360681", class_code="0102", serial=15) == "3606810102000015"
    assert serial_of("component_id", light, a, prefix="3606810102") == 15
    assert serial_of("component_id", light, a, prefix="3606810103") is None
    with pytest.raises(Exception) as err:
        format_parts("component_id", light, county="360681", class_code="0102", serial=10 ** 6)
    assert "顺序码" in str(err.value.message.zh)


def test_light_modules_import_only_the_standard_library():
    code = ("import sys\n"
            "import surveytools.profiles.light, surveytools.codeformat\n"
            "p = surveytools.profiles.light.load_light_profile('guixi')\n"
            "std = set(sys.stdlib_module_names)\n"
            "bad = sorted({m.split('.')[0] for m in sys.modules} - std - {'surveytools', 'sitecustomize', "
            "'usercustomize'})\n"
            "print(','.join(b for b in bad if not b.startswith('_')))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         cwd=str(find_standards_dir().parent))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
