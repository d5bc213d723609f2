"""Loading a survey project into the QGIS layer tree, styled and with generated forms, and
reloading it after an algorithm replaced the GeoPackage.

Layer tree (one group per project, one sub-group per theme, top first)::

    <project title>
      Validation errors     validation_errors_point / _line / _polygon
      Components and events components_point / _line / _polygon (categorised by major class), events
      Geocoding             the layers of standards/<profile>/layers_geocode.yaml
      Grids                 unit_grids, work_grids, responsibility_grids, responsibility_areas,
                            communities, streets (retired unit grids hidden)
      Dictionaries          dict_component_classes, departments (hidden; used by the forms)

Components: **one layer per geometry table** (three layers) with a categorised renderer by major
class, rather than one layer per major class with a subset filter: editing, snapping and the
attribute table work on the real table, a new feature of any class goes to the right layer, and the
legend still shows one entry per major class (which can be switched off individually).
"""
from __future__ import annotations

import os

from qgis.core import QgsLayerTreeGroup, QgsProject

from .autofill import attach, detach
from .compat import log, tr
from .idregistry import IdRegistry
from .projectdata import CLASS_TABLE, COMPONENT_KEYS, PROP_KEY, PROP_PROJECT, PROP_THEME, SurveyProject
from .styles import apply_style

HIDDEN = {"unit_grid_history", "dictionaries"}


class LoadedProject:
    """A :class:`SurveyProject` whose layers are in a QGIS project."""

    def __init__(self, sp: SurveyProject, qgs_project: QgsProject | None = None):
        self.sp = sp
        self.qgs = qgs_project or QgsProject.instance()
        #: key or table → layer id
        self.layer_ids: dict = {}
        self.group: QgsLayerTreeGroup | None = None
        self.styles: dict = {}
        self.forms: dict = {}

    # -- access -----------------------------------------------------------------------------------
    def layer(self, key: str):
        """A loaded layer by profile key (``component_point``) or table name."""
        lid = self.layer_ids.get(key)
        if lid is None:
            for k, i in self.layer_ids.items():
                lyr = self.qgs.mapLayer(i)
                if lyr is not None and lyr.customProperty(PROP_KEY) == key:
                    lid = i
                    break
            else:
                # table name of a profile key
                for k, spec in self.sp.profile.layers.items():
                    if spec.table == key and k in self.layer_ids:
                        lid = self.layer_ids[k]
                        break
        return self.qgs.mapLayer(lid) if lid else None

    def layer_for_table(self, table: str):
        for k, spec in self.sp.profile.layers.items():
            if spec.table == table and k in self.layer_ids:
                return self.qgs.mapLayer(self.layer_ids[k])
        return self.layer(table)

    def layers(self) -> list:
        return [lyr for lyr in (self.qgs.mapLayer(i) for i in self.layer_ids.values()) if lyr is not None]

    # -- loading ----------------------------------------------------------------------------------
    def _same_source(self, lyr) -> bool:
        if lyr.customProperty(PROP_PROJECT) == self.sp.source_id:
            return True
        if self.sp.kind != "gpkg":
            return False
        path = lyr.source().split("|")[0]
        try:
            return os.path.exists(path) and os.path.samefile(path, self.sp.path)
        except OSError:
            return False

    def existing_layer(self, key: str):
        """A layer of this project already in the QGIS project (a reopened ``.qgz``, a second
        "open"), by its key property and source."""
        for lyr in self.qgs.mapLayers().values():
            if lyr.customProperty(PROP_KEY) == key and self._same_source(lyr):
                return lyr
        return None

    def _root_group(self) -> QgsLayerTreeGroup:
        root = self.qgs.layerTreeRoot()
        for g in root.findGroups():
            if g.customProperty(PROP_PROJECT) == self.sp.source_id:
                return g
        # a reopened .qgz whose project moved: the group holding this project's layers
        for g in root.findGroups():
            if g.customProperty(PROP_PROJECT) and any(self._same_source(n.layer()) for n in g.findLayers()
                                                      if n.layer() is not None):
                g.setCustomProperty(PROP_PROJECT, self.sp.source_id)
                return g
        g = root.insertGroup(0, self.sp.title)
        g.setCustomProperty(PROP_PROJECT, self.sp.source_id)
        return g

    def _theme_group(self, parent, theme: str, title: str) -> QgsLayerTreeGroup:
        for g in parent.findGroups():
            if g.customProperty(PROP_THEME) == theme:
                return g
        g = parent.addGroup(title)
        g.setCustomProperty(PROP_THEME, theme)
        if theme in HIDDEN:
            g.setItemVisibilityChecked(False)
            g.setExpanded(False)
        return g

    def load(self, *, autofill: bool = True, options=None) -> QgsLayerTreeGroup:
        """Add the project's layers that are not loaded yet (layers of this project already in
        the QGIS project are adopted, never added twice); style them and build the native forms
        (:mod:`.project_file`); with ``autofill`` attach the plugin's automatic fields."""
        self.group = self._root_group()
        for theme, title, items in self.sp.plan():
            tg = self._theme_group(self.group, theme, title)
            for key, table, name in items:
                if key in self.layer_ids and self.qgs.mapLayer(self.layer_ids[key]) is not None:
                    continue
                old = self.existing_layer(key)
                if old is not None:
                    old.setCustomProperty(PROP_PROJECT, self.sp.source_id)
                    self.layer_ids[key] = old.id()
                    continue
                try:
                    lyr = self.sp.layer(table, name)
                except Exception as exc:
                    log(f"{table}: {exc}", "Warning")
                    continue
                lyr.setCustomProperty(PROP_PROJECT, self.sp.source_id)
                lyr.setCustomProperty(PROP_KEY, key)
                lyr.setCustomProperty(PROP_THEME, theme)
                self.qgs.addMapLayer(lyr, False)
                node = tg.addLayer(lyr)
                if key in HIDDEN:
                    node.setItemVisibilityChecked(False)
                node.setExpanded(theme == "components")
                self.layer_ids[key] = lyr.id()
                if theme != "dictionaries":
                    self.styles[key] = apply_style(lyr, key, self.sp.profile)
        self.configure_forms(autofill=autofill, options=options)
        return self.group

    def configure_forms(self, *, autofill: bool = True, options=None) -> None:
        """Native forms on every layer (the same configuration the ``.qgz`` holds) and, with
        ``autofill``, the plugin's automatic fields on the component layers."""
        from .project_file import configure_project_forms

        self.forms = configure_project_forms(self, options=options)
        if not autofill:
            return
        prof = self.sp.profile
        grids, comms, streets = (self.layer(k) for k in ("unit_grid", "community", "street"))
        comps = [self.layer(k) for k in COMPONENT_KEYS]
        registry = IdRegistry(self.sp)
        for key in COMPONENT_KEYS:
            lyr = self.layer(key)
            if lyr is not None and key in self.forms:
                attach(lyr, prof, self.sp.county, grids=grids, communities=comms, streets=streets,
                       siblings=[c for c in comps if c is not None and c is not lyr], registry=registry)

    # -- reloading --------------------------------------------------------------------------------
    def modified_layers(self) -> list:
        return [lyr for lyr in self.layers() if lyr.isEditable() and lyr.isModified()]

    def save_edits(self) -> list:
        """Commit pending edits of the project's layers (an algorithm reads the file); returns
        ``[(layer name, errors)]`` of the layers that could not be saved."""
        failed = []
        for lyr in self.layers():
            if lyr.isEditable():
                if not lyr.commitChanges():
                    failed.append((lyr.name(), lyr.commitErrors()))
        return failed

    def checkpoint(self) -> None:
        """Move QGIS's write-ahead log into the GeoPackage file.

        QGIS opens GeoPackages in WAL mode: committed edits may live in ``<file>-wal`` until a
        checkpoint.  The library's copy-on-write transaction copies the main file only, and a
        ``-wal`` left beside the file it renames into place would be replayed onto the new file
        (``database disk image is malformed``).  So before an operation runs: checkpoint
        (TRUNCATE) — the main file then holds everything and the WAL is empty."""
        if self.sp.kind != "gpkg":
            return
        import sqlite3

        con = sqlite3.connect(self.sp.path, timeout=30)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            con.close()

    def prepare_operation(self) -> list:
        """Save pending edits and checkpoint the file before an operation reads or replaces it;
        returns ``[(layer name, errors)]`` of layers that could not be saved (then do not run)."""
        failed = self.save_edits()
        if not failed:
            self.checkpoint()
        return failed

    def release(self) -> dict:
        """Remove the project's layers (closing QGIS's connections to the file) and return their
        visibility ``{key: visible}``.  The theme groups stay."""
        root = self.qgs.layerTreeRoot()
        visible = {}
        for key, lid in list(self.layer_ids.items()):
            lyr = self.qgs.mapLayer(lid)
            if lyr is None:
                continue
            node = root.findLayer(lid)
            if node is not None:
                visible[key] = node.itemVisibilityChecked()
            if lyr.isEditable():
                lyr.rollBack()
            detach(lyr)
            self.qgs.removeMapLayer(lid)
        self.layer_ids.clear()
        return visible

    def reload(self) -> None:
        """Re-open every layer after an operation: the library replaces the GeoPackage atomically
        (copy-on-write + rename), and QGIS's connections still point at the old file.  The layers
        are closed first (so no stale ``-wal``/``-shm`` meets the new file), then loaded again,
        with the tables an algorithm created (validation errors …); visibility is kept."""
        visible = self.release()
        self.sp.refresh_tables()
        self.load()
        root = self.qgs.layerTreeRoot()
        for key, vis in visible.items():
            lid = self.layer_ids.get(key)
            node = root.findLayer(lid) if lid else None
            if node is not None:
                node.setItemVisibilityChecked(vis)

    def unload(self) -> None:
        for lyr in self.layers():
            detach(lyr)
        for lid in list(self.layer_ids.values()):
            if self.qgs.mapLayer(lid) is not None:
                self.qgs.removeMapLayer(lid)
        self.layer_ids.clear()
        if self.group is not None:
            parent = self.group.parent()
            if parent is not None:
                parent.removeChildNode(self.group)
            self.group = None


def open_project(source, qgs_project=None, *, connection=None, schema=None, autofill: bool = True) -> LoadedProject:
    """Open a GeoPackage path (or a PostGIS ``connection`` + ``schema``) and load its layers
    (adopting those already in the QGIS project)."""
    sp = SurveyProject.open_postgres(connection, schema) if connection else SurveyProject.open_gpkg(source)
    if sp.kind == "gpkg":
        from .idregistry import ensure_table
        ensure_table(sp)
    lp = LoadedProject(sp, qgs_project)
    lp.load(autofill=autofill)
    return lp


__all__ = ["LoadedProject", "open_project", "CLASS_TABLE", "tr"]
