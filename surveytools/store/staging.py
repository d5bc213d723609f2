"""What both backends' transactions share: an operation's GDAL writes go to a private staging
GeoPackage (``_stage_file``, per backend), and the steps to apply at commit are recorded in order
(``("table", name)`` for a staged layer, ``("sql", statement, parameter rows)`` for keyed updates
and deletes)."""
from __future__ import annotations


class StagedWrites:
    def __init__(self, project, path):
        self.project = project
        self.path = path
        self.staging: str | None = None
        self.modes: dict = {}  # staged table -> "replace" | "append" (GeoPackage also "direct")
        self.steps: list = []  # ("table", name) | ("sql", sql, rows)
        self.batch: str | None = None
        self.meta: dict = {}
        self.mark: int | None = None  # edit-log position the operation's reads are based on

    def _stage_file(self) -> str:
        raise RuntimeError("a backend's transaction names its staging file")

    def _step(self, table: str) -> None:
        if ("table", table) not in self.steps:
            self.steps.append(("table", table))

    def target(self, table: str, append: bool) -> tuple[str, bool]:
        """Where GDAL writes ``table`` for this operation: (staging path, append there?).  The
        first write of a table in an operation starts it in the staging file; a write that does
        not append makes the commit replace the layer, else the commit appends the staged rows."""
        stg = self._stage_file()
        mode = self.modes.get(table)
        self._step(table)
        if not append:
            self.modes[table] = "replace"
            return stg, False
        if mode is None:
            self.modes[table] = "append"
            return stg, False
        return stg, True

    def sql(self, sql: str, rows) -> None:
        """Run ``sql`` with each parameter row of ``rows`` at commit (keyed updates and deletes)."""
        self.steps.append(("sql", sql, list(rows)))
