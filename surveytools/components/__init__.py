"""Components (部件) and events (事件), CJ/T 214 / GB/T 30428.2 / GB/T 47678.5.

* :mod:`.sources`  — read deliveries (GPKG, SHP in GBK/UTF-8, GeoJSON, CSV, XLSX; GCJ-02/BD-09);
* :mod:`.mapping`  — field and class mapping (exact matches only; proposals otherwise);
* :mod:`.prepare`  — a delivery as profile-shaped records, geometry types checked;
* :mod:`.coding`   — component IDs (county + class + serial), never reused;
* :mod:`.intake`   — ``components intake``; :mod:`.recode` — ``components code``;
* :mod:`.merge`    — ``components merge`` (maintenance updates, change log);
* :mod:`.template` — ``components template`` (Excel survey workbook);
* :mod:`.events`   — ``events intake``;
* :mod:`.store`    — project layers as Arrow, batches, reports, rejects, ID registry;
* :mod:`.ops`      — the CLI commands / Processing algorithms.

Location (所在网格) is :mod:`surveytools.locate`, shared with the grid recode.
"""
