"""Sample data: the realistic 贵溪市 district built from OpenStreetMap, and the synthetic city.

* :mod:`.osm` — read an ``.osm`` XML extract (stdlib) into GeoDataFrames;
* :mod:`.district` — streets (街道) and communities (社区) that tile the study area;
* :mod:`.departments` — departments with valid 统一社会信用代码;
* :mod:`.components`, :mod:`.doorplates`, :mod:`.events` — seeded survey generators;
* :mod:`surveytools.chinacoords` — WGS-84 ↔ GCJ-02 ↔ BD-09 (moved out of the sample package; re-exported here);
* :mod:`.build` — write the whole ``sample_data/`` delivery set (with deliberate mistakes);
* :mod:`.synthetic` — a synthetic city of N components for benchmarks.

Nothing here imports ``qgis``.
"""
