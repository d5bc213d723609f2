"""Codes: parse/format/check for every profile and kind (hypothesis), the NBS table, the CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveytools.admin import divisions, lookup_admin
from surveytools.codes import KINDS, SEVERITY, InvalidCodeError, check_code, check_codes, format_code, parse_code
from surveytools.errors import SurveyError
from surveytools.profiles import load_profile

PROFILES = ["cjt", "gbt30428", "gbt47678", "guixi"]
D = divisions()
STREETS = sorted(D.street_codes)
HSET = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _prof(pid):
    return load_profile(pid)


def _classes(p, kind):
    if kind == "component_id":
        return sorted(p.component_classes["code"])
    if kind == "event_code":
        return sorted(p.event_classes["code"])
    return sorted(set(p.component_classes["code"]) | set(p.event_classes["code"]))


@st.composite
def valid_parts(draw, pid, kind):
    """Parts of a valid code built from a real NBS street and a real class code."""
    p = _prof(pid)
    spec = p.codes[kind]
    street = draw(st.sampled_from(STREETS))
    parts = {}
    names = [n for n, _ in spec.parts]
    if "major" in names:
        cc = draw(st.sampled_from(_classes(p, kind)))
        ml = spec.part_length("major")
        parts["major"], parts["minor"] = cc[:ml], cc[ml:]
    for name, ln in spec.parts:
        if name == "county":
            parts[name] = street[:6]
        elif name == "street":
            parts[name] = street[6:9]
        elif name in ("community", "serial"):
            parts[name] = draw(st.integers(1, 10 ** ln - 1))
    return p, parts


@pytest.mark.parametrize("pid", PROFILES)
@pytest.mark.parametrize("kind", KINDS)
def test_format_parse_identity_and_valid(pid, kind):
    @HSET
    @given(valid_parts(pid, kind))
    def run(pp):
        p, parts = pp
        code = format_code(kind, p, **parts)
        assert len(code) == p.codes[kind].length
        parsed = parse_code(kind, code, p)
        assert parsed.code == code
        for name, v in parts.items():
            assert getattr(parsed, name) == (str(v).zfill(p.codes[kind].part_length(name)) if isinstance(v, int) else v)
        assert format_code(kind, p, **dict(parsed.parts)) == code
        issues = check_code(kind, code, p)
        assert issues == [], (code, issues)
    run()


def test_code_lengths():
    expect = {"cjt": (14, 16, 10), "gbt30428": (15, 16, 10), "gbt47678": (15, 17, 11)}
    for pid, (g, c, e) in expect.items():
        p = load_profile(pid)
        assert (p.codes["unit_grid"].length, p.codes["component_id"].length, p.codes["event_code"].length) == (g, c, e)


def test_format_rejects_overflow_and_bad_parts():
    p = load_profile("cjt")
    with pytest.raises(SurveyError) as e:
        format_code("unit_grid", p, county="360681", street=1, community=1, serial=100)
    assert e.value.code == "invalid_code_part" and e.value.field == "serial"
    with pytest.raises(SurveyError):
        format_code("unit_grid", p, county="360681", street=1, community=1)  # serial missing
    with pytest.raises(SurveyError):
        format_code("unit_grid", p, county="36068", street=1, community=1, serial=1)
    with pytest.raises(SurveyError):
        format_code("unit_grid", p, county="360681", street=-1, community=1, serial=1)
    with pytest.raises(SurveyError):
        format_code("class", p, major=1, minor=2, serial=3)
    assert format_code("unit_grid", load_profile("gbt30428"), county="360681", street=1, community=1, serial=100) \
        == "360681001001100"
    assert format_code("component_id", p, county="360681", class_code="0102", serial=15) == "3606810102000015"


# --------------------------------------------------------------------------------------------
# malformations

def _mutations(code: str, p, kind):
    """(name, mutated code, expected reason)"""
    spec = p.codes[kind]
    out = [("drop", code[:-1], "leading_zeros" if kind == "class" and code[-1] else "length"),
           ("add", code + "1", "length"),
           ("letter", code[:3] + "x" + code[4:], "charset"),
           ("fullwidth", code[:2] + chr(ord(code[2]) + 0xFEE0) + code[3:], "fullwidth"),
           ("space", " " + code, "whitespace"),
           ("inner_space", code[:4] + " " + code[4:], "whitespace"),
           ("tab", code + "\t", "whitespace"),
           ("empty", "", "empty"),
           ("none", None, "empty")]
    names = [n for n, _ in spec.parts]
    if "serial" in names:
        a, b = spec.span("serial")
        out.append(("serial_zero", code[:a] + "0" * (b - a) + code[b:], "serial_zero"))
    if "major" in names:
        a, b = spec.span("major")
        out.append(("unknown_major", code[:a] + "88" + code[b:], "class_unknown"))
        _, mb = spec.span("minor")
        out.append(("unknown_minor", code[:b] + "7" * (mb - b) + code[mb:], "class_unknown"))
    if "county" in names:
        a, b = spec.span("county")
        out.append(("unknown_county", code[:a] + "999999" + code[b:], "county_unknown"))
    if "street" in names:
        a, b = spec.span("street")
        out.append(("unknown_street", code[:a] + "998" + code[b:], "street_unknown"))
    return out


@pytest.mark.parametrize("pid", PROFILES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_malformation_has_its_reason(pid, kind):
    @HSET
    @given(valid_parts(pid, kind))
    def run(pp):
        p, parts = pp
        code = format_code(kind, p, **parts)
        for name, bad, reason in _mutations(code, p, kind):
            if name == "drop" and kind == "class":
                continue  # dropping the last digit of a class leaves a valid-looking shorter code
            if name == "unknown_minor" and (code[:p.codes[kind].span("minor")[1]][-5:] in _classes(p, kind)):
                continue
            issues = check_code(kind, bad, p)
            reasons = [i.reason for i in issues]
            assert reason in reasons, (name, bad, reasons)
            assert all(i.severity == SEVERITY[i.reason] for i in issues)
            assert all(i.message.zh and i.message.en for i in issues)
            if reason in ("county_unknown", "street_unknown"):
                assert all(i.severity == "warning" for i in issues if i.reason == reason)
    run()


def test_specific_messages():
    p = load_profile("cjt")
    (i,) = check_code("unit_grid", "3606810010010", p)
    assert i.reason == "length" and "14" in i.message.zh and "13" in i.message.en
    (i,) = check_code("unit_grid", "36068100100a01", p)
    assert i.reason == "charset" and "第 12 位" in i.message.zh and "character 12" in i.message.en
    assert [i.reason for i in check_code("unit_grid", "３６０６８１00100101", p)] == ["fullwidth"]
    assert [i.reason for i in check_code("class", "101", p)] == ["leading_zeros"]
    assert [i.reason for i in check_code("class", "01-02", p)] == ["separator"]
    assert [i.reason for i in check_code("component_id", 3606810102000001.0, p)] == ["excel_number"]
    assert [i.reason for i in check_code("component_id", "3.606810102e+15", p)] == ["excel_number"]
    assert [i.reason for i in check_code("unit_grid", "36068100100001", p)] == ["community_zero"]
    assert [i.reason for i in check_code("unit_grid", "36068100100101", p, county="360602")] == ["prefix_mismatch"]
    g = load_profile("gbt47678")
    assert check_code("unit_grid", "36068100100100A", g) == []  # alnum serial
    assert [i.reason for i in check_code("unit_grid", "36068100100A001", g)] == ["charset"]  # only the serial may hold letters


def test_unknown_county_is_a_warning_not_an_exception():
    p = load_profile("cjt")
    issues = check_code("component_id", "9999990101000001", p)
    assert [(i.severity, i.reason) for i in issues] == [("warning", "county_unknown")]
    assert "99" in issues[0].message.en
    assert check_code("component_id", "9999990101000001", p, admin=False) == []
    assert parse_code("component_id", "9999990101000001", p).county == "999999"


def test_parse_rejects_malformed():
    p = load_profile("cjt")
    with pytest.raises(InvalidCodeError) as e:
        parse_code("component_id", "36068101020000", p)
    assert e.value.code == "invalid_code" and e.value.value["issues"][0]["reason"] == "length"
    with pytest.raises(InvalidCodeError):
        parse_code("unit_grid", None, p)


# --------------------------------------------------------------------------------------------
# vectorised

def _sample_codes(p, kind, rng, n):
    codes = []
    for _ in range(n):
        street = STREETS[rng.integers(len(STREETS))]
        cls = _classes(p, kind)
        cc = cls[rng.integers(len(cls))]
        parts = {}
        for name, ln in p.codes[kind].parts:
            parts[name] = {"county": street[:6], "street": street[6:9]}.get(name, int(rng.integers(0, 10 ** ln)))
        if "major" in parts:
            ml = p.codes[kind].part_length("major")
            parts["major"], parts["minor"] = cc[:ml], cc[ml:]
        code = format_code(kind, p, **parts)
        for name, bad, _ in _mutations(code, p, kind):
            if rng.random() < 0.15:
                code = bad
                break
        codes.append(code)
    codes += [None, np.nan, "  ", "0", "3.6e+15", "360681\u3000", "\u200b" + codes[0] if codes[0] else "x"]
    return pd.Series(codes, dtype=object)


@pytest.mark.parametrize("pid", PROFILES)
@pytest.mark.parametrize("kind", KINDS)
def test_check_codes_agrees_with_check_code(pid, kind):
    p = load_profile(pid)
    rng = np.random.default_rng(hash((pid, kind)) % 2 ** 32)
    s = _sample_codes(p, kind, rng, 250)
    s.index = [f"r{i}" for i in range(len(s))]
    vec = check_codes(kind, s, p)
    assert list(vec.columns) == ["index", "severity", "reason", "message_zh", "message_en", "part"]
    for label, code in s.items():
        want = [(i.severity, i.reason, i.message.zh, i.message.en) for i in check_code(kind, code, p)]
        got = [tuple(r) for r in vec.loc[vec["index"] == label, ["severity", "reason", "message_zh", "message_en"]]
               .itertuples(index=False)]
        assert got == want, (code, got, want)
    # the string dtype (pyarrow) path gives the same
    s2 = s.dropna().astype(str)
    vec2 = check_codes(kind, s2, p)
    assert vec2.equals(vec[vec["index"].isin(s2.index)].reset_index(drop=True))


@given(st.text(alphabet=st.sampled_from(list("0123456789 -.０３Aax\t\u3000e+")), max_size=20))
@settings(max_examples=200, deadline=None)
def test_check_codes_agrees_on_arbitrary_text(text):
    p = load_profile("cjt")
    vec = check_codes("component_id", pd.Series([text], dtype=object), p)
    want = [(i.reason, i.message.en) for i in check_code("component_id", text, p)]
    assert [tuple(r) for r in vec[["reason", "message_en"]].itertuples(index=False)] == want


def test_check_codes_numeric_series():
    p = load_profile("cjt")
    vec = check_codes("component_id", pd.Series([3606810102000001.0, np.nan]), p)
    assert list(vec["reason"]) == ["excel_number", "empty"]
    vec = check_codes("component_id", pd.Series([3606810102000001]), p)
    assert vec.empty


def test_check_codes_vectorised_on_many_valid_codes():
    """check_codes on 200,000 valid random IDs finds nothing (its speed is measured in
    benchmarks/bench_codes.py, never here)."""
    p = load_profile("cjt")
    rng = np.random.default_rng(0)
    counties = np.array(sorted(D.county_codes))
    classes = p.component_classes["code"].to_numpy()
    n = 200_000
    codes = pd.Series(np.char.add(np.char.add(rng.choice(counties, n).astype("U6"), rng.choice(classes, n).astype("U4")),
                                  np.char.zfill(rng.integers(1, 999999, n).astype("U6"), 6)))
    out = check_codes("component_id", codes, p)
    assert out.empty


# --------------------------------------------------------------------------------------------
# NBS table

def test_nbs_table():
    assert D.county("360681")["name"] == "贵溪市"
    assert D.county("360681")["city_name"] == "鹰潭市"
    assert D.street("360681001")["name"] == "花园街道"
    assert D.street("360681001")["county_name"] == "贵溪市"
    assert D.county("110101")["name"] == "东城区" and D.county("110101")["city_name"] == "市辖区"
    assert D.county_name("110101") == "东城区"
    assert D.city("1101")["province_name"] == "北京市"
    assert D.province("36")["name"] == "江西省"
    assert D.county("999999") is None and D.street("360681999") is None and D.county_name("x") is None
    lon, lat = D.county_lonlat("360681")
    assert 116 < lon < 118 and 27 < lat < 29
    assert D.county_lonlat("360699") == D.county_lonlat("360600")  # falls back to the city
    assert D.county_lonlat("999999") is None
    assert any(s["name"] == "花园街道" for s in D.streets_of("360681"))
    assert lookup_admin("110101")["full_name"] == "北京市东城区"
    assert lookup_admin("360681001")["names"] == ["江西省", "鹰潭市", "贵溪市", "花园街道"]
    assert lookup_admin("360681001001")["chain"][-1]["level"] == "community"
    assert lookup_admin("999999")["found"] is False and lookup_admin("abc")["missing"] == "format"


# --------------------------------------------------------------------------------------------
# CLI

@pytest.fixture(scope="module")
def cli():
    from surveytools.cli import build_cli
    return build_cli()


def test_cli_code_check_json(cli):
    from click.testing import CliRunner
    r = CliRunner()
    res = r.invoke(cli, ["code", "check", "component_id", "3606810102000001", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["ok"] and data["results"][0]["valid"]
    res = r.invoke(cli, ["code", "check", "component_id", "3606810102000001", "360681010200000", "--json"])
    assert res.exit_code == 2
    data = json.loads(res.stdout)
    assert data["ok"] is False and data["error"]["code"] == "invalid_code"
    issues = data["error"]["value"]["results"][1]["issues"]
    assert issues[0]["reason"] == "length"
    assert "应为 16 位" in res.stderr and "must have 16" in res.stderr
    res = r.invoke(cli, ["code", "check", "unit_grid", "99999900100101", "--json"])
    assert res.exit_code == 0  # an unknown county is a warning
    assert json.loads(res.stdout)["results"][0]["issues"][0]["reason"] == "county_unknown"


def test_cli_code_parse(cli):
    from click.testing import CliRunner
    res = CliRunner().invoke(cli, ["code", "parse", "component_id", "3606810102000001", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["parts"] == {"county": "360681", "major": "01", "minor": "02", "serial": "000001"}
    assert data["names"]["county"] == "贵溪市" and data["names"]["class"] == "污水井盖"
    res = CliRunner().invoke(cli, ["code", "parse", "unit_grid", "1101010010010", "--profile", "gbt30428"])
    assert res.exit_code == 2
