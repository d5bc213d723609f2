"""Numeric parameters declare a range in the operation registry and are checked once, in
``Operation.call``, for the CLI and Processing alike; required parameters are required."""
import math

import pytest

from surveytools.errors import SurveyError
from surveytools.i18n import Text
from surveytools.ops import Param, check_number, load_all


def test_every_numeric_parameter_declares_a_range():
    for op in load_all().values():
        for p in op.params:
            if p.kind in ("int", "float"):
                assert p.minimum is not None and p.maximum is not None, f"{op.id}.{p.name}"
                assert p.minimum <= p.maximum, f"{op.id}.{p.name}"
                if p.default is not None:
                    assert p.minimum <= p.default <= p.maximum, f"{op.id}.{p.name}"


@pytest.mark.parametrize("value", [float("nan"), "nan", float("inf"), "-inf", -5, "abc", 2000.0])
def test_out_of_range_or_not_finite_is_refused_naming_the_parameter(value):
    p = Param("tolerance", "float", Text("容差", "tolerance"), minimum=0.001, maximum=1000)
    with pytest.raises(SurveyError) as e:
        check_number(p, value)
    text = e.value.render()
    assert "--tolerance" in text and "参数" in text and "parameter" in text
    assert e.value.exit_code == 2


def test_in_range_values_pass_typed():
    p = Param("n", "int", Text("n", "n"), minimum=1, maximum=10)
    assert check_number(p, "3") == 3 and isinstance(check_number(p, 3.0), int)
    with pytest.raises(SurveyError):
        check_number(p, 2.5)
    f = Param("t", "float", Text("t", "t"), minimum=0.5, maximum=1)
    assert math.isclose(check_number(f, "0.75"), 0.75)


@pytest.mark.parametrize("args,needle", [
    (["components", "merge", "{p}", "{src}", "--tolerance", "-5"], "--tolerance"),
    (["components", "merge", "{p}", "{src}", "--tolerance", "nan"], "--tolerance"),
    (["geocode", "reverse", "{p}", "nan", "nan"], "参数 X"),
    (["grid", "recode", "{p}", "--redrawn", "{src}", "--keep-iou", "7"], "--keep-iou"),
    (["grid", "divide", "{p}", "--communities", "{src}", "--target-area", "0"], "--target-area"),
])
def test_cli_refuses_bad_numbers_before_touching_anything(cli, components_grid_project, tmp_path, args, needle):
    import shutil

    p = tmp_path / "p.gpkg"
    shutil.copy(components_grid_project, p)
    before = p.read_bytes()
    argv = [a.format(p=p, src=components_grid_project) for a in args]
    rc, out, err = cli(argv)
    assert rc == 2, err
    assert needle in err and "Error" in err and "错误" in err
    assert p.read_bytes() == before


def test_a_missing_required_input_is_named_not_none(cli, tmp_path):
    from surveytools import project

    p = tmp_path / "p.gpkg"
    project.init(project=str(p), county="360681")
    rc, out, err = cli(["grid", "divide", p])
    assert rc == 2 and "--communities" in err and "None" not in err
    rc, out, err = cli(["grid", "divide", p, "--communities", ""])
    assert rc == 2 and "--communities" in err and "None" not in err
    op = load_all()["grid_divide"]
    with pytest.raises(SurveyError) as e:
        op.call(project=str(p), communities=None)
    assert "COMMUNITIES" in e.value.render()
