"""Rates, RMS and grade of an acceptance (docs/acceptance.md gives the formulas).

With the check records of the sampled components (``checked`` = rows with a result):

* error rate 错误率          = (属性错误 + 多余) / checked
* omission rate 遗漏率       = 遗漏 / (checked + 遗漏)
* position-error rate 精度误差率 = position errors / checked, where a position error is a 位置错误
  result, or a measured offset beyond the tolerance of the class's accuracy grade (profile
  ``accuracy_grades``: A 0.5 m, B 1.0 m, C 10 m in cjt)
* RMS = sqrt(mean(offset²)) over the measured offsets (多余 rows have none)

The grade is the first of ``standards/acceptance/grading.yaml`` (or a profile's ``acceptance.yaml``,
or a file given with ``--thresholds``) whose every limit holds; else the fail grade.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SurveyError
from ..i18n import Text

RATE_KEYS = ("error_rate", "omission_rate", "position_error_rate")
#: the keys a grade may have (a misspelt limit is an error, not a missing limit)
GRADE_KEYS = ("grade", "en", *RATE_KEYS, "provenance", "source", "note")
NOT_GRADED = "未评定"


def _yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SurveyError(Text(f"无法读取评级阈值文件：{e}", f"cannot read the grading thresholds: {e}"),
                          code="bad_thresholds", file=str(path)) from None
    if not isinstance(data, dict):
        raise SurveyError(Text("评级阈值文件应为 YAML 映射", "the grading thresholds must be a YAML mapping"),
                          code="bad_thresholds", file=str(path))
    return data


def load_thresholds(profile, explicit=None) -> dict:
    """The grading thresholds: the default file, overridden by the profile chain's ``acceptance.yaml``
    (base first, city last) and then by ``explicit`` (a YAML file).  Returns the merged mapping with
    ``sources`` (the files used, in order)."""
    from ..profiles.light import find_standards_dir
    from ..profiles.light import profile_dir as _profile_dir

    files = [find_standards_dir() / "acceptance" / "grading.yaml"]
    dirs = []
    for pid in reversed(profile.chain[1:]):
        try:
            dirs.append(_profile_dir(pid))
        except SurveyError:
            continue
    dirs.append(Path(profile.path))
    files += [d / "acceptance.yaml" for d in dirs if (d / "acceptance.yaml").exists()]
    if explicit:
        p = Path(explicit)
        if not p.exists():
            raise SurveyError(Text("评级阈值文件不存在", "the thresholds file does not exist"), code="not_found",
                              file=str(p), field="thresholds")
        files.append(p)
    merged: dict = {}
    for f in files:
        data = _yaml(f)
        for k, v in data.items():
            if k == "grades":
                merged["grades"] = _merge_grades(merged.get("grades", []), v, f)
            else:
                merged[k] = v
    merged["sources"] = [str(f) for f in files]
    _validate(merged, files[-1])
    return merged


def _merge_grades(base: list, override, path) -> list:
    if not isinstance(override, list):
        raise SurveyError(Text("grades 应为列表", "grades must be a list"), code="bad_thresholds", file=str(path), field="grades")
    out = [dict(g) for g in base]
    for g in override:
        if not isinstance(g, dict) or "grade" not in g:
            raise SurveyError(Text("每个等级都要有 grade", "every grade needs a grade name"), code="bad_thresholds",
                              file=str(path), field="grades", value=g)
        unknown = sorted(str(k) for k in g if k not in GRADE_KEYS)
        if unknown:  # a misspelt limit would be ignored: no limit at all
            raise SurveyError(Text(f"等级 {g['grade']} 中有未知的键 {'、'.join(unknown)}；可用的键：{'、'.join(GRADE_KEYS)}",
                                   f"grade {g['grade']} has unknown keys {', '.join(unknown)}; the keys are "
                                   f"{', '.join(GRADE_KEYS)}"), code="bad_thresholds", file=str(path), field=unknown[0],
                              value=g[unknown[0]])
        hit = next((o for o in out if o["grade"] == g["grade"]), None)
        if hit is None:
            lacking = [k for k in RATE_KEYS if g.get(k) is None]
            if out and lacking:  # a new grade with a missing limit is most likely a misspelt grade name
                names = "、".join(str(o["grade"]) for o in out)
                raise SurveyError(Text(f"等级 {g['grade']} 不是已有的等级（{names}）；新增的等级必须给出全部三个上限，缺少 "
                                       f"{'、'.join(lacking)}",
                                       f"grade {g['grade']} is not one of the grades ({names.replace('、', ', ')}); a new "
                                       f"grade must give all three limits, it lacks {', '.join(lacking)}"),
                                  code="bad_thresholds", file=str(path), field="grade", value=g["grade"])
            out.append(dict(g))
        else:
            hit.update(g)
    return out


def _validate(t: dict, path) -> None:
    grades = t.get("grades") or []
    if not grades:
        raise SurveyError(Text("评级阈值中没有等级", "the thresholds define no grades"), code="bad_thresholds", file=str(path))
    mc = t.get("min_checked", 0)
    if isinstance(mc, bool) or not isinstance(mc, int) or mc < 0:
        if not (isinstance(mc, float) and mc.is_integer() and mc >= 0):
            raise SurveyError(Text("min_checked 应为不小于 0 的整数", "min_checked must be a whole number ≥ 0"),
                              code="bad_thresholds", file=str(path), field="min_checked", value=mc)
    for g in grades:
        for k in RATE_KEYS:
            v = g.get(k)
            if v is None:
                continue
            try:
                ok = 0 <= float(v) <= 1
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise SurveyError(Text(f"等级 {g['grade']} 的 {k} 应为 0 到 1 之间的比例", f"{k} of grade {g['grade']} must be a fraction in [0, 1]"),
                                  code="bad_thresholds", file=str(path), field=k, value=v)


def tolerances(profile) -> dict:
    """class code -> plane tolerance (m) of its accuracy grade; classes without a grade are absent."""
    limits = {str(k): float(v.get("max_error_m")) for k, v in profile.accuracy_grades.items() if v.get("max_error_m") is not None}
    cc = profile.component_classes
    return {str(c): limits[str(a)] for c, a in zip(cc["code"], cc["accuracy"].fillna("")) if str(a) in limits}


def judge(checks: pd.DataFrame, profile) -> pd.DataFrame:
    """The check rows with their judgement: tolerance, error, position_error flags."""
    ch = checks.copy()
    tol = tolerances(profile)
    ch["tolerance_m"] = ch["class_code"].map(tol).astype("float64")
    off = pd.to_numeric(ch["offset_m"], errors="coerce")
    beyond = off.notna() & ch["tolerance_m"].notna() & (off > ch["tolerance_m"])
    ch["is_error"] = ch["result"].isin(["属性错误", "多余"])
    ch["is_position_error"] = (ch["result"] == "位置错误") | (beyond & (ch["result"] != "多余"))
    ch["beyond_tolerance"] = beyond
    return ch


def _rates(ch: pd.DataFrame, n_missing: int) -> dict:
    checked = int(len(ch))
    err = int(ch["is_error"].sum()) if checked else 0
    pos = int(ch["is_position_error"].sum()) if checked else 0
    off = pd.to_numeric(ch["offset_m"], errors="coerce").dropna().to_numpy(dtype=float) if checked else np.zeros(0)
    counts = ch["result"].value_counts() if checked else pd.Series(dtype=int)
    return {
        "checked": checked, "correct": int(counts.get("正确", 0)), "attribute_errors": int(counts.get("属性错误", 0)),
        "position_results": int(counts.get("位置错误", 0)), "superfluous": int(counts.get("多余", 0)),
        "missing": int(n_missing), "errors": err, "position_errors": pos,
        "beyond_tolerance": int(ch["beyond_tolerance"].sum()) if checked else 0,
        "error_rate": err / checked if checked else None,
        "omission_rate": n_missing / (checked + n_missing) if (checked + n_missing) else None,
        "position_error_rate": pos / checked if checked else None,
        "offsets": int(len(off)), "rms_m": float(np.sqrt(np.mean(np.square(off)))) if len(off) else None,
        "max_offset_m": float(off.max()) if len(off) else None,
    }


def grade(rates: dict, thresholds: dict) -> dict:
    """{grade, en, failed: [keys over the 合格-level limit] …} for overall rates."""
    checked = rates["checked"]
    if checked < int(thresholds.get("min_checked", 0) or 0) or checked == 0:
        return {"grade": NOT_GRADED, "en": "not graded", "reason": "min_checked"}
    for g in thresholds["grades"]:
        ok = all(rates[k] is None or g.get(k) is None or rates[k] <= float(g[k]) + 1e-12 for k in RATE_KEYS)
        if ok:
            return {"grade": g["grade"], "en": g.get("en", g["grade"])}
    fail = thresholds.get("fail_grade") or {"grade": "不合格", "en": "rejected"}
    last = thresholds["grades"][-1]
    over = [k for k in RATE_KEYS if rates[k] is not None and last.get(k) is not None and rates[k] > float(last[k])]
    return {"grade": fail["grade"], "en": fail.get("en", fail["grade"]), "over": over}


def compute(checks: pd.DataFrame, missing: pd.DataFrame, items: pd.DataFrame, profile, thresholds: dict) -> dict:
    """Overall, per class and per street rates plus the grade."""
    ch = judge(checks, profile)
    overall = _rates(ch, len(missing))
    overall.update(grade(overall, thresholds))
    cname = dict(zip(profile.component_classes["code"].astype(str), profile.component_classes["name"]))
    sname = dict(zip(items["street_code"], items["street_name"]))
    tol = tolerances(profile)

    def per(key: str, keys) -> pd.DataFrame:
        rows = []
        for k in keys:
            r = _rates(ch[ch[key] == k], int((missing[key] == k).sum()))
            rows.append({key: k, **r})
        return pd.DataFrame(rows)

    cls_keys = sorted((set(ch["class_code"]) | set(missing["class_code"])) - {""})
    by_class = per("class_code", cls_keys)
    if len(by_class):
        by_class.insert(1, "class_name", by_class["class_code"].map(cname).fillna(""))
        by_class.insert(2, "tolerance_m", by_class["class_code"].map(tol))
    st_keys = sorted((set(items["street_code"]) | set(ch["street_code"]) | set(missing["street_code"])) - {""})
    by_street = per("street_code", st_keys)
    if len(by_street):
        by_street.insert(1, "street_name", by_street["street_code"].map(sname).fillna(""))
        sampled = items.groupby("street_code").size()
        by_street.insert(2, "sampled", by_street["street_code"].map(sampled).fillna(0).astype(int))
    return {"overall": overall, "by_class": by_class, "by_street": by_street, "checks": ch}
