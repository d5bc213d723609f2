"""Acceptance (验收) of a survey delivery: a stratified sample of unit grids, field check records,
error / omission / position-error rates and a graded report.

* :mod:`.sample`     the sampling plan (``acceptance plan``): grids per street, every class covered
* :mod:`.checklist`  the checklist workbook: written for the field, read back validated
* :mod:`.record`     storing the check records in the project (``acceptance record``)
* :mod:`.rates`      the rates, RMS and the grade from ``standards/acceptance/grading.yaml``
* :mod:`.report`     HTML, XLSX and PDF report with a map (``acceptance report``)
* :mod:`.ops`        the registered operations (CLI commands and Processing algorithms)
"""
