"""Attribute forms generated from the profile's field table.

For a component layer (and the other project layers with a field table):

* aliases from the profile (Chinese or English by the QGIS locale);
* the class code: the cascading major → minor drop-down (:mod:`.classwidget`);
* fields with a value domain (部件状态 state, 数据来源 data source …): a ValueMap of the domain;
* the competent / owner / maintainer units: ValueRelation drop-downs on the project's
  ``departments`` table (filtered by role 主管 / 权属 / 养护) when the table exists;
* mandatory fields (constraint ``M``) get a NOT NULL constraint.  Fields the plugin fills itself
  (ID, grid, street, community, name — see :mod:`.autofill`) are read-only with a *soft*
  constraint; every other mandatory field has a **hard** constraint, so the form refuses to save
  until it is filled and says which field is missing;
* defaults from the profile: state = ``defaults.component_state_new``, data source =
  ``defaults.data_source_survey``, initial date = today.
"""
from __future__ import annotations

from qgis.core import QgsDefaultValue, QgsEditorWidgetSetup, QgsFieldConstraints

from .classwidget import WIDGET_TYPE, register
from .compat import constraint, constraint_strength, is_chinese, tr

#: roles the plugin fills automatically on add / move (see autofill.py)
AUTO_ROLES = ("component_id", "grid_code", "street_code", "street_name", "community_code", "community_name")
#: roles filled automatically when left empty (still editable)
SOFT_ROLES = ("name",)
#: department roles: (code role, name role, dept role in departments.role)
DEPT_ROLES = (("dept1_code", "dept1_name", "主管"), ("dept2_code", "dept2_name", "权属"),
              ("dept3_code", "dept3_name", "养护"))


def _value_map(values) -> dict:
    return {"map": [{str(v): str(v)} for v in values]}


def _value_relation(layer, key: str, value: str, filter_expr: str = "") -> dict:
    return {"Layer": layer.id(), "LayerName": layer.name(), "LayerSource": layer.source(),
            "LayerProviderName": layer.providerType(), "Key": key, "Value": value,
            "FilterExpression": filter_expr, "AllowNull": True, "AllowMulti": False, "OrderByValue": True,
            "UseCompleter": False, "NofColumns": 1}


def configure_form(layer, profile, field_group: str, *, departments=None, mandatory_hard: bool = True) -> dict:
    """Configure the widgets, aliases, defaults and constraints of ``layer`` from the profile's
    fields of ``field_group`` (``component``, ``unit_grid`` …).  Returns a summary
    ``{"widgets": {field: type}, "hard": [fields], "soft": [fields], "readonly": [fields]}``."""
    fields = profile.layer_fields(field_group)
    zh = is_chinese()
    summary = {"widgets": {}, "hard": [], "soft": [], "readonly": []}
    if fields.empty:
        return summary
    form = layer.editFormConfig()
    by_role = {r["role"]: r for _, r in fields.iterrows()}
    auto_names = {by_role[r]["name"] for r in AUTO_ROLES if r in by_role} if field_group in ("component", "event") else set()
    soft_names = {by_role[r]["name"] for r in SOFT_ROLES if r in by_role} if field_group == "component" else set()
    domains = profile.domains
    defaults = profile.defaults or {}
    for _, f in fields.iterrows():
        name = f["name"]
        idx = layer.fields().indexOf(name)
        if idx < 0:
            continue
        alias = (f.get("alias_zh") if zh else f.get("alias_en")) or ""
        if alias:
            layer.setFieldAlias(idx, str(alias))
        role = f["role"]
        setup = None
        if role == "class_code" and field_group == "component" and register():
            setup = QgsEditorWidgetSetup(WIDGET_TYPE, {"profile": profile.id})
        elif isinstance(f.get("domain"), str) and f["domain"]:
            values = list(domains.loc[domains["domain"] == f["domain"], "value"])
            if values:
                setup = QgsEditorWidgetSetup("ValueMap", _value_map(values))
        if departments is not None:
            for code_role, name_role, dept_role in DEPT_ROLES:
                filt = f"\"role\" LIKE '%{dept_role}%'"
                if role == code_role:
                    setup = QgsEditorWidgetSetup("ValueRelation", _value_relation(departments, "dept_id", "name", filt))
                elif role == name_role:
                    setup = QgsEditorWidgetSetup("ValueRelation", _value_relation(departments, "name", "name", filt))
        if f.get("type") == "date" and setup is None:
            setup = QgsEditorWidgetSetup("DateTime", {"allow_null": True, "calendar_popup": True,
                                                      "display_format": "yyyy-MM-dd", "field_format": "yyyy-MM-dd"})
        if setup is not None:
            layer.setEditorWidgetSetup(idx, setup)
            summary["widgets"][name] = setup.type()
        # defaults
        if field_group == "component":
            if role == "state" and defaults.get("component_state_new"):
                layer.setDefaultValueDefinition(idx, QgsDefaultValue(f"'{defaults['component_state_new']}'"))
            elif role == "data_source" and defaults.get("data_source_survey"):
                layer.setDefaultValueDefinition(idx, QgsDefaultValue(f"'{defaults['data_source_survey']}'"))
            elif role == "init_date":
                layer.setDefaultValueDefinition(idx, QgsDefaultValue("to_date(now())"))
        # read-only automatic fields
        if name in auto_names:
            form.setReadOnly(idx, True)
            summary["readonly"].append(name)
        # constraints
        if str(f.get("constraint", "")).strip().upper() == "M":
            hard = mandatory_hard and name not in auto_names and name not in soft_names
            strength = constraint_strength("Hard" if hard else "Soft")
            layer.setFieldConstraint(idx, constraint("NotNull"), strength)
            desc = (f"{alias or name}：必填字段" if zh else f"{alias or name}: mandatory field")
            if name in auto_names:
                desc += tr(" (filled automatically)")
            layer.setConstraintExpression(idx, "", desc)
            summary["hard" if hard else "soft"].append(name)
    layer.setEditFormConfig(form)
    return summary


def missing_mandatory(layer, feature) -> list:
    """Names of the fields with a hard NOT NULL constraint that are empty in ``feature``."""
    out = []
    for idx, fld in enumerate(layer.fields()):
        c = fld.constraints()
        if c.constraints() & constraint("NotNull") and \
                c.constraintStrength(constraint("NotNull")) == constraint_strength("Hard"):
            v = feature.attribute(idx)
            if v is None or str(v) in ("", "NULL") or (hasattr(v, "isNull") and v.isNull()):
                out.append(fld.name())
    return out


__all__ = ["configure_form", "missing_mandatory", "AUTO_ROLES", "QgsFieldConstraints"]
