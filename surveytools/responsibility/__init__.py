"""Responsible units (责任单位): the department registry, the dispatch matrix and assignment.

* :mod:`.registry`  the project table ``departments`` (部门), XLSX import/export, checks;
* :mod:`.matrix`    the project table ``dispatch_matrix`` (派遣矩阵): profile defaults, XLSX
  round trip, the lookup used by assignment and by the release query;
* :mod:`.assign`    components take 主管/权属/养护 units, components and events get a lead unit;
* :mod:`.ops`       the ``surveytools responsibility …`` operations.

Module-level imports stay free of geopandas/shapely/pyogrio (the QGIS plugin imports the registry).
"""
