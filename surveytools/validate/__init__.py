"""Survey data validation (质检): a rule catalogue as data, check schemes, error layers, reports.

* :mod:`.catalogue`  the rules (``standards/rules/catalogue.yaml``) and their implementations
* :mod:`.scheme`     check schemes (检查方案): which rules, in which order, with which parameters
* :mod:`.context`    what the rules read: project layers and tables, loaded once
* :mod:`.engine`     runs a scheme and returns the error rows, step outcomes and verdict
* :mod:`.report`     errors.gpkg, report.html, report.xlsx and the project's validation tables
* :mod:`.ops`        the ``surveytools validate …`` operations
"""
