"""Automatic fields of component (and event) features while they are digitised in QGIS.

When a feature is **added** to the layer's edit buffer, or its geometry **moved**, or its class
changed, the plugin fills (in the same edit session, so Undo and Cancel work as usual):

* ``grid_code`` — the unit grid, by a point-in-polygon lookup on the project's ``unit_grids``
  layer (``QgsSpatialIndex``, the QGIS API; never shapely in the QGIS process) with the rules of
  :mod:`surveytools.locate`: a point goes to the grid whose interior holds it, a point on an edge
  or corner to the **smallest code** among the grids it touches; a line to the grid holding its
  longest part, a polygon to the grid holding its largest part (ties: smallest code).  Without
  unit grids the community layer is used, then the street layer;
* ``community_code`` / ``street_code`` — the leading parts of the grid code (county + street +
  community, county + street), ``community_name`` / ``street_name`` from the community and
  street layers;
* ``component_id`` (ObjID …) — county + class + next serial, where the serial follows the
  largest serial ever issued for that county + class: the IDs in the project's component layers
  (edit buffers included) and the project's ``id_registry`` (:mod:`.idregistry`), so a deleted or
  retired ID is never issued again; built with :func:`surveytools.codeformat.format_parts` (the
  library's own code builder).  An existing ID is kept while its county and class parts agree
  with the feature; it is replaced when the class changed.  When edits are committed the
  registry is raised to the serials of the added, changed and deleted features;
* ``name`` — the class name when left empty or still the name of a class (a class change renames
  a feature that carried its old class's name).

The same rules are written as native default-value expressions into the forms
(:mod:`.project_file`), so a ``.qgz`` fills these fields in a QGIS without the plugin too.
"""
from __future__ import annotations

from qgis.core import QgsFeatureRequest, QgsGeometry, QgsSpatialIndex
from qgis.PyQt.QtCore import QObject

from surveytools.codeformat import format_parts

from .compat import enum_value, layer_geometry_name, log


def _text(v):
    if v is None:
        return None
    if hasattr(v, "isNull") and v.isNull():
        return None
    s = str(v)
    return None if s in ("", "NULL") else s


class GridLookup:
    """Point / line / polygon → grid code on a polygon layer, with the rules of locate.py.

    Why this is not :class:`surveytools.locate.Locator` (the one locator of the library, used by
    every operation): this class runs in QGIS's own process, where the plugin imports only the
    standard library and ``qgis`` (no shapely, no pyarrow: tests/qgis/test_plugin_purity.py), and
    it answers one feature at a time from the layers' edit buffers, unsaved edits included.  Why it
    is still needed beside the ``.qgz``'s default-value expressions (:func:`.project_file.
    locate_expression`, the same rules): QGIS evaluates those only for features it creates itself
    (the digitising tools, the form) and on edits of their geometry, not for a feature added to
    the edit buffer by code (``layer.addFeature`` from a plugin, a script or the Python console),
    which :class:`AutoFill` fills on ``featureAdded``; it also looks up through a
    ``QgsSpatialIndex`` where the expression aggregates over the whole grid layer.  The two are
    kept equal by tests/qgis/test_project_qgz.py::test_native_locate_expression_follows_the_locate_rules.
    """

    def __init__(self, layer, code_field: str):
        self.layer = layer
        self.code_field = code_field
        self.index = QgsSpatialIndex()
        self.geoms = {}
        self.codes = {}
        self.rebuild()

    def rebuild(self):
        self.index = QgsSpatialIndex()
        self.geoms, self.codes = {}, {}
        if self.layer is None:
            return
        idx = self.layer.fields().indexOf(self.code_field)
        for f in self.layer.getFeatures():
            g = f.geometry()
            if g is None or g.isEmpty():
                continue
            self.index.addFeature(f)
            self.geoms[f.id()] = g
            self.codes[f.id()] = _text(f.attribute(idx))

    def __len__(self):
        return len(self.geoms)

    def locate(self, geom: QgsGeometry):
        """The grid code for ``geom`` or ``None``."""
        if geom is None or geom.isEmpty() or not self.geoms:
            return None
        cands = [fid for fid in self.index.intersects(geom.boundingBox()) if self.codes.get(fid)]
        if not cands:
            return None
        kind = geom.type()
        point = enum_value("Qgis.GeometryType.Point", "QgsWkbTypes.GeometryType.PointGeometry")
        line = enum_value("Qgis.GeometryType.Line", "QgsWkbTypes.GeometryType.LineGeometry")
        if kind == point:
            inside = [fid for fid in cands if self.geoms[fid].contains(geom)]
            if inside:  # interiors do not overlap in a valid coverage; smallest code if they do
                return min(self.codes[f] for f in inside)
            touching = [fid for fid in cands if self.geoms[fid].intersects(geom)]
            return min(self.codes[f] for f in touching) if touching else None
        best, best_code = 0.0, None
        for fid in cands:
            part = self.geoms[fid].intersection(geom)
            if part is None or part.isEmpty():
                continue
            size = part.length() if kind == line else part.area()
            code = self.codes[fid]
            if size > best or (size == best and size > 0 and best_code is not None and code < best_code):
                best, best_code = size, code
        return best_code


class AutoFill(QObject):
    """Fills the automatic fields of one layer (see the module docstring)."""

    def __init__(self, layer, profile, county: str, *, grids=None, communities=None, streets=None,
                 siblings=(), field_group: str = "component", registry=None):
        super().__init__(layer)
        #: :class:`~.idregistry.IdRegistry` of the project (or ``None``)
        self.registry = registry
        self._pending = {}
        self.layer = layer
        self.profile = profile
        self.county = county
        self.group = field_group
        self.siblings = [s for s in siblings if s is not None]  # other component layers (ID serials)
        f = lambda role: profile.field(field_group, role)  # noqa: E731
        self.f_id = f("component_id") if field_group == "component" else f("event_id")
        self.f_class = f("class_code")
        self.f_name = f("name")
        self.f_grid = f("grid_code")
        self.f_street, self.f_street_name = f("street_code"), f("street_name")
        self.f_comm, self.f_comm_name = f("community_code"), f("community_name")
        ug = profile.codes["unit_grid"]
        self.comm_len = ug.length - ug.part_length("serial")
        self.street_len = self.comm_len - ug.part_length("community")
        self.level = None
        self.lookup = None
        for level, lyr, role_layer in (("unit_grid", grids, "unit_grid"), ("community", communities, "community"),
                                       ("street", streets, "street")):
            if lyr is not None and lyr.featureCount() > 0:
                code_role = {"unit_grid": "grid_code", "community": "community_code", "street": "street_code"}[level]
                self.level = level
                self.lookup = GridLookup(lyr, profile.field(role_layer, code_role))
                break
        self.comm_names = self._names(communities, "community", "community_code", "community_name")
        self.street_names = self._names(streets, "street", "street_code", "street_name")
        self._busy = False
        layer.featureAdded.connect(self._added)
        layer.geometryChanged.connect(self._moved)
        layer.attributeValueChanged.connect(self._attribute_changed)
        layer.beforeCommitChanges.connect(self._before_commit)
        layer.afterCommitChanges.connect(self._after_commit)
        self.class_names = {str(r["name"]) for r in profile.component_classes}

    def _names(self, lyr, layer_key, code_role, name_role) -> dict:
        if lyr is None:
            return {}
        cf, nf = self.profile.field(layer_key, code_role), self.profile.field(layer_key, name_role)
        if lyr.fields().indexOf(cf) < 0 or lyr.fields().indexOf(nf) < 0:
            return {}
        return {_text(f[cf]): _text(f[nf]) for f in lyr.getFeatures()}

    def disconnect_all(self):
        for sig, slot in ((self.layer.featureAdded, self._added), (self.layer.geometryChanged, self._moved),
                          (self.layer.attributeValueChanged, self._attribute_changed),
                          (self.layer.beforeCommitChanges, self._before_commit),
                          (self.layer.afterCommitChanges, self._after_commit)):
            try:
                sig.disconnect(slot)
            except (TypeError, RuntimeError):
                pass

    # -- computations -----------------------------------------------------------------------------
    def location(self, geom) -> dict:
        """field name → value of the location fields for a geometry."""
        out = {}
        code = self.lookup.locate(geom) if self.lookup is not None else None
        grid = comm = street = None
        if self.level == "unit_grid":
            grid = code
            comm = code[:self.comm_len] if code else None
            street = code[:self.street_len] if code else None
        elif self.level == "community":
            comm = code
            street = code[:self.street_len] if code else None
        elif self.level == "street":
            street = code
        for name, value in ((self.f_grid, grid), (self.f_comm, comm), (self.f_street, street),
                            (self.f_comm_name, self.comm_names.get(comm) if comm else None),
                            (self.f_street_name, self.street_names.get(street) if street else None)):
            if name:
                out[name] = value
        return out

    def next_id(self, class_code: str, exclude_fid=None) -> str | None:
        """County + class + (largest serial issued with that prefix + 1): the component layers'
        IDs and the project's ``id_registry``."""
        if not class_code or not self.county or self.group != "component":
            return None
        spec = self.profile.codes["component_id"]
        serial_len = spec.part_length("serial")
        try:
            prefix = format_parts("component_id", self.profile, county=self.county, class_code=class_code,
                                 serial=0)[:-serial_len]
        except Exception as exc:  # a class code of the wrong length: no ID
            log(f"autofill: {exc}", "Info")
            return None
        best = self.registry.max_serial(self.county, class_code) if self.registry is not None else 0
        for lyr in [self.layer, *self.siblings]:
            idx = lyr.fields().indexOf(self.f_id)
            if idx < 0:
                continue
            req = QgsFeatureRequest().setFilterExpression(f"\"{self.f_id}\" LIKE '{prefix}%'")
            req.setSubsetOfAttributes([idx])
            req.setFlags(enum_value("Qgis.FeatureRequestFlag.NoGeometry", "QgsFeatureRequest.Flag.NoGeometry"))
            for f in lyr.getFeatures(req):
                if lyr is self.layer and f.id() == exclude_fid:
                    continue
                v = _text(f.attribute(idx))
                if v and len(v) == spec.length and v.startswith(prefix) and v[-serial_len:].isdigit():
                    best = max(best, int(v[-serial_len:]))
        return format_parts("component_id", self.profile, county=self.county, class_code=class_code, serial=best + 1)

    def id_is_current(self, value, class_code) -> bool:
        if not value or not class_code:
            return bool(value)
        spec = self.profile.codes["component_id"]
        if len(value) != spec.length:
            return False
        c0, c1 = spec.span("county")
        m0, _ = spec.span("major")
        _, n1 = spec.span("minor")
        return value[c0:c1] == self.county and value[m0:n1] == class_code

    # -- filling ----------------------------------------------------------------------------------
    def _set(self, fid, values: dict, feature) -> None:
        fields = self.layer.fields()
        for name, value in values.items():
            idx = fields.indexOf(name)
            if idx < 0:
                continue
            old = _text(feature.attribute(idx)) if feature is not None else None
            if old != value:
                self.layer.changeAttributeValue(fid, idx, value)

    def fill(self, fid, *, location: bool = True, code: bool = True) -> dict:
        """Fill the automatic fields of feature ``fid`` in the edit buffer; returns what was set."""
        if self._busy:
            return {}
        feature = self.layer.getFeature(fid)
        if not feature.isValid():
            return {}
        values = {}
        if location:
            values.update(self.location(feature.geometry()))
        if code and self.f_class and self.group == "component":
            cls = _text(feature[self.f_class]) if self.layer.fields().indexOf(self.f_class) >= 0 else None
            cur = _text(feature[self.f_id]) if self.layer.fields().indexOf(self.f_id) >= 0 else None
            if cls and not self.id_is_current(cur, cls):
                new = self.next_id(cls, exclude_fid=fid)
                if new:
                    values[self.f_id] = new
            if cls and self.f_name and self.layer.fields().indexOf(self.f_name) >= 0:
                name = _text(feature[self.f_name])
                row = self.profile.component_class(cls)
                if row is not None and (not name or (name in self.class_names and name != str(row["name"]))):
                    values[self.f_name] = str(row["name"])
        self._busy = True
        try:
            self._set(fid, values, feature)
        finally:
            self._busy = False
        return values

    # -- the ID registry --------------------------------------------------------------------------
    def _serial_key(self, value):
        """(county, class) and serial of a well-formed component ID, else ``None``."""
        v = _text(value)
        spec = self.profile.codes["component_id"]
        if not v or len(v) != spec.length:
            return None
        c0, c1 = spec.span("county")
        m0, _ = spec.span("major")
        _, n1 = spec.span("minor")
        s0, s1 = spec.span("serial")
        serial = v[s0:s1]
        if not (serial.isascii() and serial.isdigit()):
            return None
        return (v[c0:c1], v[m0:n1]), int(serial)

    def issued_ids(self) -> list:
        """The IDs a commit of the edit buffer issues or retires: added and changed features'
        IDs and the stored IDs of changed and deleted features."""
        idx = self.layer.fields().indexOf(self.f_id) if self.f_id else -1
        buf = self.layer.editBuffer()
        if idx < 0 or buf is None:
            return []
        out = [f.attribute(idx) for f in buf.addedFeatures().values()]
        changed = buf.changedAttributeValues()
        out += [attrs[idx] for attrs in changed.values() if idx in attrs]
        stored = [fid for fid in list(buf.deletedFeatureIds()) + list(changed) if fid >= 0]
        if stored:
            from qgis.core import QgsFeatureRequest
            req = QgsFeatureRequest().setFilterFids(stored).setSubsetOfAttributes([idx])
            out += [f.attribute(idx) for f in self.layer.dataProvider().getFeatures(req)]
        return out

    def _before_commit(self, *_args):
        if self.registry is None or self.group != "component":
            return
        pending = {}
        for value in self.issued_ids():
            hit = self._serial_key(value)
            if hit is not None:
                key, serial = hit
                pending[key] = max(pending.get(key, 0), serial)
        self._pending = pending

    def _after_commit(self, *_args):
        pending, self._pending = self._pending, {}
        if pending and self.registry is not None:
            self.registry.raise_to(pending)

    # -- signals ----------------------------------------------------------------------------------
    def _added(self, fid):
        self.fill(fid)

    def _moved(self, fid, _geom):
        self.fill(fid, code=False)

    def _attribute_changed(self, fid, idx, _value):
        if self._busy or idx < 0 or idx >= self.layer.fields().count():
            return
        if self.layer.fields().at(idx).name() == self.f_class:
            self.fill(fid, location=False)


def attach(layer, profile, county, *, grids=None, communities=None, streets=None, siblings=(),
           field_group="component", registry=None) -> AutoFill:
    """Attach (once) an :class:`AutoFill` to ``layer``; returns it."""
    detach(layer)
    af = AutoFill(layer, profile, county, grids=grids, communities=communities, streets=streets,
                  siblings=siblings, field_group=field_group, registry=registry)
    _ATTACHED[layer.id()] = af
    return af


def detach(layer) -> None:
    old = _ATTACHED.pop(layer.id(), None)
    if old is not None:
        try:
            old.disconnect_all()
        except RuntimeError:  # the layer is gone
            pass


def attached(layer):
    return _ATTACHED.get(layer.id())


#: layer id → AutoFill
_ATTACHED: dict = {}


__all__ = ["AutoFill", "GridLookup", "attach", "detach", "attached", "layer_geometry_name"]
