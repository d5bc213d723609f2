"""Processing dialog widgets for string parameters with a ``Param.widget`` (see
:data:`surveytools.ops.WIDGETS`): the value stays the plain string the CLI takes, the widget only
helps to choose it.

* ``scheme``: an editable list of the check schemes known in the standards (``default`` …) and a
  button to pick a scheme YAML file;
* ``release_target``: an editable list of the saved PostgreSQL connections of this QGIS (as
  ``postgresql://USER@HOST:PORT/DB`` without the password: libpq takes it from the connection's
  service, ``~/.pgpass`` or ``PGPASSWORD``) and a button to pick a ``.gpkg`` file.

The wrappers are named in the parameter's ``widget_wrapper`` metadata; Processing looks them up
only when it builds a dialog, and only then are the classes made (on top of Processing's own
``WidgetWrapper``), so importing this module imports nothing beyond ``qgis``.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from qgis.core import QgsDataSourceUri, QgsProviderRegistry
from qgis.PyQt.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QToolButton, QWidget

from .compat import tr


def standards_dirs() -> list:
    """The standards folders the library would read (``$SURVEYTOOLS_STANDARDS``, ``standards/``
    beside the package, the copy inside the wheel); without importing the library's loader."""
    import surveytools

    out = []
    env = os.environ.get("SURVEYTOOLS_STANDARDS")
    if env:
        out.append(Path(env))
    here = Path(surveytools.__file__).resolve().parent
    out += [here.parent / "standards", here / "_standards"]
    return [d for d in out if d.is_dir()]


def known_schemes() -> list:
    """Names of the check schemes of every profile (``standards/*/schemes/*.yaml``, cities too),
    ``default`` first."""
    names = set()
    for root in standards_dirs():
        for pattern in ("*/schemes/*.yaml", "cities/*/schemes/*.yaml"):
            names.update(p.stem for p in root.glob(pattern))
    return sorted(names, key=lambda n: (n != "default", n))


def postgres_targets() -> list:
    """``[(connection name, postgresql:// URL)]`` of the saved PostgreSQL connections."""
    out = []
    try:
        md = QgsProviderRegistry.instance().providerMetadata("postgres")
        connections = md.connections() if md is not None else {}
    except Exception:  # the provider is missing in this QGIS
        return out
    for name, conn in sorted(connections.items()):
        out.append((name, postgres_url(conn.uri())))
    return out


def postgres_url(uri: str) -> str:
    """A libpq URL for a QGIS PostgreSQL data source URI (no password in it)."""
    u = QgsDataSourceUri(uri)
    if u.service():
        return f"postgresql://?service={quote(u.service())}"
    user = quote(u.username()) + "@" if u.username() else ""
    host = u.host() or "localhost"
    port = f":{u.port()}" if u.port() else ""
    return f"postgresql://{user}{host}{port}/{quote(u.database())}"


def _make_wrappers() -> dict:
    """The wrapper classes, built on Processing's ``WidgetWrapper`` (imported here, when a dialog
    needs them)."""
    from processing.gui.wrappers import WidgetWrapper

    class _ChoiceOrFileWrapper(WidgetWrapper):
        """An editable combo box of named choices plus a file button; the value is a string."""

        FILE_FILTER = ""

        def choices(self) -> list:
            """``[(label, value)]``"""
            return []

        def createWidget(self, **kwargs):
            box = QWidget()
            lay = QHBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            self.combo = QComboBox(box)
            self.combo.setEditable(True)
            self.combo.setObjectName("surveytools_choice")
            for label, value in self.choices():
                self.combo.addItem(label, value)
            self.combo.setToolTip(self.parameterDefinition().description())
            lay.addWidget(self.combo, 1)
            self.button = QToolButton(box)
            self.button.setText("…")
            self.button.setToolTip(tr("Choose a file"))
            self.button.clicked.connect(self.pick_file)
            lay.addWidget(self.button)
            return box

        def pick_file(self):
            path, _ = QFileDialog.getOpenFileName(self.widget, tr("Choose a file"), "", self.FILE_FILTER)
            if path:
                self.setValue(path)

        def setValue(self, value):
            value = "" if value is None else str(value)
            for i in range(self.combo.count()):
                if self.combo.itemData(i) == value:
                    self.combo.setCurrentIndex(i)
                    return
            self.combo.setEditText(value)

        def value(self):
            text = self.combo.currentText().strip()
            i = self.combo.findText(text)
            if i >= 0 and self.combo.itemData(i):
                return self.combo.itemData(i)
            return text or None


    class SchemeWidgetWrapper(_ChoiceOrFileWrapper):
        FILE_FILTER = "YAML (*.yaml *.yml)"

        def choices(self) -> list:
            return [(name, name) for name in known_schemes()]


    class ReleaseTargetWidgetWrapper(_ChoiceOrFileWrapper):
        FILE_FILTER = "GeoPackage (*.gpkg)"

        def choices(self) -> list:
            return [(tr("PostgreSQL connection {name}: {url}").format(name=name, url=url), url)
                    for name, url in postgres_targets()]

        def pick_file(self):
            path, _ = QFileDialog.getSaveFileName(self.widget, tr("Choose a file"), "", self.FILE_FILTER)
            if path:
                self.setValue(path if path.lower().endswith(".gpkg") else path + ".gpkg")

    return {"SchemeWidgetWrapper": SchemeWidgetWrapper, "ReleaseTargetWidgetWrapper": ReleaseTargetWidgetWrapper}


WRAPPER_NAMES = ("SchemeWidgetWrapper", "ReleaseTargetWidgetWrapper")


def __getattr__(name):  # PEP 562: Processing resolves "<plugin>.widgets.SchemeWidgetWrapper" here
    if name in WRAPPER_NAMES:
        globals().update(_make_wrappers())
        return globals()[name]
    raise AttributeError(name)
