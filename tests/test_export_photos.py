"""Component photos go into the release (GeoPackage + folder beside it, PostGIS + folder) and the exchange files."""
import csv
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pyogrio
import pytest
from export_fixture import assigned, copy

PG_URL = os.environ.get("SURVEYTOOLS_PG_URL")


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def with_photos(tmp_path, cli):
    """A project with three photos of two components taken in from a folder named by ID, and one photo whose
    file went missing afterwards."""
    from PIL import Image

    src, _info, _ = assigned()
    p = copy(src, tmp_path)
    ids = pyogrio.read_dataframe(str(p), layer="components_point", columns=["ObjID"], read_geometry=False)["ObjID"]
    ids = [i for i in ids.tolist() if isinstance(i, str) and len(i) == 16 and i.isdigit()][:3]  # cjt IDs
    folder = tmp_path / "camera"
    folder.mkdir()
    Image.new("RGB", (16, 12), (200, 0, 0)).save(folder / f"{ids[0]}.jpg")
    Image.new("RGB", (16, 12), (0, 200, 0)).save(folder / f"{ids[0]}_2.jpg")
    Image.new("RGB", (16, 12), (0, 0, 200)).save(folder / f"{ids[1]}.jpg")
    Image.new("RGB", (16, 12), (9, 9, 9)).save(folder / f"{ids[2]}.jpg")
    code, so, err = cli(["field", "photos", p, folder])
    assert code == 0, err
    (tmp_path / "p_photos" / f"{ids[2]}_1.jpg").unlink()  # lost after intake: reported, not released
    return p, ids


def test_gpkg_release_carries_the_photo_table_and_files_beside_it(with_photos, tmp_path, cli):
    p, ids = with_photos
    out = tmp_path / "rel" / "release.gpkg"
    out.parent.mkdir()
    code, so, err = cli(["export", "db", p, "--to", out, "--json"])
    assert code == 0, err
    res = json.loads(so)
    assert res["photos"] == 3 and res["photo_folder"] == "release_photos"
    assert any("missing" in w["en"] and ids[2] in w["en"] for w in res["warnings"])
    con = sqlite3.connect(out)
    rows = con.execute("SELECT component_id, table_name, path, sha256, size_bytes, photo_id FROM photos "
                       "ORDER BY path").fetchall()
    meta = dict(con.execute("SELECT key, value FROM release_meta"))
    fields = {r[0] for r in con.execute("SELECT field_name FROM release_fields WHERE table_name = 'photos'")}
    con.close()
    assert meta["photo_folder"] == "release_photos" and json.loads(meta["tables"])["photos"] == 3
    assert {"photo_id", "component_id", "path", "sha256"} <= fields
    assert [r[2] for r in rows] == [f"{ids[0]}_1.jpg", f"{ids[0]}_2.jpg", f"{ids[1]}_1.jpg"]
    assert {r[0] for r in rows} == {ids[0], ids[1]} and {r[1] for r in rows} == {"components_point"}
    folder = out.parent / meta["photo_folder"]
    for _cid, _t, path, digest, size, pid in rows:
        f = folder / path  # the documented join: release folder / photo_folder / path
        assert f.is_file() and sha(f) == digest and f.stat().st_size == size and pid
    assert not (folder / f"{ids[2]}_1.jpg").exists()
    # a second release replaces the folder (a stray file of the old one is gone)
    (folder / "stray.jpg").write_bytes(b"x")
    code, so, err = cli(["export", "db", p, "--to", out])
    assert code == 0, err
    assert not (folder / "stray.jpg").exists() and len(list(folder.glob("*.jpg"))) == 3
    # a folder of that name that no release wrote is never replaced
    out2 = tmp_path / "rel" / "other.gpkg"
    (tmp_path / "rel" / "other_photos").mkdir()
    (tmp_path / "rel" / "other_photos" / "mine.txt").write_text("user data")
    code, so, err = cli(["export", "db", p, "--to", out2])
    assert code == 2 and "other_photos" in err and not out2.exists()
    assert (tmp_path / "rel" / "other_photos" / "mine.txt").read_text() == "user data"
    # --photos is for PostGIS
    code, so, err = cli(["export", "db", p, "--to", out, "--photos", tmp_path / "x"])
    assert code == 2 and "--photos" in err


def test_release_of_a_project_without_photos_has_an_empty_photo_table(tmp_path, cli):
    src, _info, _ = assigned()
    p = copy(src, tmp_path)
    out = tmp_path / "r.gpkg"
    code, so, err = cli(["export", "db", p, "--to", out, "--json"])
    assert code == 0, err
    assert json.loads(so)["photos"] == 0 and not (tmp_path / "r_photos").exists()
    con = sqlite3.connect(out)
    assert con.execute("SELECT count(*) FROM photos").fetchone()[0] == 0
    assert dict(con.execute("SELECT key, value FROM release_meta"))["photo_folder"] == ""
    con.close()


@pytest.mark.parametrize("fmt", ["csv", "shp"])
def test_exchange_files_carry_a_photo_folder_and_list(with_photos, tmp_path, cli, fmt):
    p, ids = with_photos
    out = tmp_path / f"x_{fmt}"
    code, so, err = cli(["export", "files", p, "--format", fmt, "--out", out, "--json"])
    assert code == 0, err
    res = json.loads(so)
    assert res["photos"] == 3 and "tables/photos.csv" in res["files"]
    enc = "utf-8-sig" if fmt == "csv" else "gbk"
    with open(out / "tables" / "photos.csv", encoding=enc, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["path"] for r in rows) == [f"photos/{ids[0]}_1.jpg", f"photos/{ids[0]}_2.jpg", f"photos/{ids[1]}_1.jpg"]
    for r in rows:
        assert sha(out / r["path"]) == r["sha256"] and r["component_id"] in ids[:2]
    assert "photos/" in (out / "README.txt").read_text(encoding="utf-8")


@pytest.mark.skipif(not PG_URL, reason="no PostGIS (run through scripts/run_tests.sh)")
def test_postgis_release_photo_table_and_folder(with_photos, tmp_path, cli):
    import psycopg

    p, ids = with_photos
    schema = "st_test_photos"
    url = f"{PG_URL}?schema={schema}"
    code, so, err = cli(["export", "db", p, "--to", url, "--json"])  # no folder: table written, files not, said so
    assert code == 0, err
    assert any("--photos" in w["en"] for w in json.loads(so)["warnings"])
    dest = tmp_path / "served_photos"
    code, so, err = cli(["export", "db", p, "--to", url, "--photos", dest, "--json"])
    assert code == 0, err
    with psycopg.connect(PG_URL, autocommit=True) as con:
        cur = con.cursor()
        cur.execute(f"SELECT path, sha256 FROM {schema}.photos ORDER BY path")
        rows = cur.fetchall()
        cur.execute(f"SELECT value FROM {schema}.release_meta WHERE key = 'photo_folder'")
        folder = Path(cur.fetchone()[0])
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
        cur.execute("DELETE FROM public.layer_styles WHERE f_table_schema = %s", (schema,))
    assert folder == dest.resolve() and len(rows) == 3
    for path, digest in rows:
        assert sha(folder / path) == digest
