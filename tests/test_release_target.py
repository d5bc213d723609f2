"""A release target is replaced only when it is a release of this project; anything else is refused unless
``--replace-foreign``, and even then only the product's own tables are dropped — on a real PostGIS with a
user's unrelated table (and a view on it) in the schema, and on GeoPackage files."""
from __future__ import annotations

import os
import shutil
import sqlite3

import pytest
from export_fixture import assigned

PG_URL = os.environ.get("SURVEYTOOLS_PG_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="SURVEYTOOLS_PG_URL is not set (no PostGIS server)")


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """The project and a second project of another county (another project's release)."""
    src, _info, _ = assigned()
    d = tmp_path_factory.mktemp("target")
    p = d / "p.gpkg"
    shutil.copyfile(src, p)
    other = d / "other.gpkg"
    shutil.copyfile(src, other)
    con = sqlite3.connect(other)
    with con:
        con.execute("UPDATE surveytools_meta SET value = '2020-01-01T00:00:00' WHERE key = 'created'")
    con.close()
    return p, other


def _tables(path):
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


def test_gpkg_same_project_is_replaced_foreign_is_refused(projects, cli, tmp_path):
    p, other = projects
    out = tmp_path / "release.gpkg"
    assert cli(["export", "db", p, "--to", out])[0] == 0
    assert cli(["export", "db", p, "--to", out])[0] == 0  # its own release: replaced
    # another project's release: refused, untouched; replaced with --replace-foreign
    theirs = tmp_path / "theirs.gpkg"
    assert cli(["export", "db", other, "--to", theirs])[0] == 0
    before = theirs.read_bytes()
    rc, so, se = cli(["export", "db", p, "--to", theirs])
    assert rc == 2 and "另一个项目的发布" in se and "another project" in se and "--replace-foreign" in se and str(theirs) in se
    assert theirs.read_bytes() == before
    rc, so, se = cli(["export", "db", p, "--to", theirs, "--replace-foreign", "--json"])
    assert rc == 0, se
    con = sqlite3.connect(theirs)
    meta = dict(con.execute("SELECT key, value FROM release_meta").fetchall())
    con.close()
    assert meta["project_created"] != "2020-01-01T00:00:00"


def test_gpkg_user_data_is_never_replaced(projects, cli, tmp_path):
    import geopandas as gpd
    import shapely

    p, _ = projects
    user = tmp_path / "user.gpkg"
    gpd.GeoDataFrame({"name": ["我的数据"]}, geometry=[shapely.Point(0, 0)], crs=4326).to_file(user, layer="my_layer")
    before = user.read_bytes()
    rc, so, se = cli(["export", "db", p, "--to", user])
    assert rc == 2 and "不是本软件的发布" in se and "my_layer" in se
    rc, so, se = cli(["export", "db", p, "--to", user, "--replace-foreign"])
    assert rc == 2 and "my_layer" in se and "nothing was changed" in se  # the file would take the user's table with it
    assert user.read_bytes() == before
    # the project itself is never a target
    rc, so, se = cli(["export", "db", p, "--to", p, "--replace-foreign"])
    assert rc == 2 and "项目库本身" in se
    # a file that is not a GeoPackage at all
    junk = tmp_path / "junk.gpkg"
    junk.write_text("notes")
    rc, so, se = cli(["export", "db", p, "--to", junk])
    assert rc == 2 and junk.read_text() == "notes"
    assert cli(["export", "db", p, "--to", junk, "--replace-foreign"])[0] == 0
    assert "release_meta" in _tables(junk)


# ----------------------------------------------------------------------------------------------
# PostGIS

def _pg():
    import psycopg

    return psycopg.connect(PG_URL, autocommit=True)


def _relations(schema):
    with _pg() as con:
        rows = con.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = %s AND c.relkind IN ('r', 'v')", (schema,)).fetchall()
    return {r[0] for r in rows}


@needs_pg
def test_postgis_user_tables_survive_every_release(projects, cli):
    p, other = projects
    schema = "st_target_user"
    url = f"{PG_URL}?schema={schema}"
    with _pg() as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        con.execute(f"CREATE SCHEMA {schema}")
        con.execute(f"CREATE TABLE {schema}.my_cases (id int PRIMARY KEY, note text)")
        con.execute(f"INSERT INTO {schema}.my_cases VALUES (1, '用户自己的数据')")
        con.execute(f"CREATE VIEW {schema}.my_view AS SELECT note FROM {schema}.my_cases")
    # a schema that is no release: refused, nothing changed
    rc, so, se = cli(["export", "db", p, "--to", url])
    assert rc == 2 and "不是本软件的发布" in se and "my_cases" in se and "--replace-foreign" in se
    assert _relations(schema) == {"my_cases", "my_view"}
    # --replace-foreign: the release goes in beside the user's table, which is kept
    rc, so, se = cli(["export", "db", p, "--to", url, "--replace-foreign"])
    assert rc == 0, se
    rel = _relations(schema)
    assert {"my_cases", "my_view", "release_meta", "unit_grids", "components_point"} <= rel
    # the next release of the same project needs no flag and still keeps the user's table
    rc, so, se = cli(["export", "db", p, "--to", url])
    assert rc == 0, se
    with _pg() as con:
        assert con.execute(f"SELECT note FROM {schema}.my_cases").fetchall() == [("用户自己的数据",)]
        assert con.execute(f"SELECT count(*) FROM {schema}.my_view").fetchone()[0] == 1
        assert con.execute(f"SELECT to_regnamespace('{schema}__staging')").fetchone()[0] is None
    # another project's release into this schema: refused; its incremental too
    rc, so, se = cli(["export", "db", other, "--to", url])
    assert rc == 2 and "另一个项目的发布" in se and "another project" in se
    rc, so, se = cli(["export", "db", other, "--to", url, "--incremental"])
    assert rc == 2 and "another project" in se
    # a user's table that has a release table's name is never dropped, even with --replace-foreign
    clash = "st_target_clash"
    with _pg() as con:
        con.execute(f"DROP SCHEMA IF EXISTS {clash} CASCADE")
        con.execute(f"CREATE SCHEMA {clash}")
        con.execute(f"CREATE TABLE {clash}.events (id int, what text)")
        con.execute(f"INSERT INTO {clash}.events VALUES (7, '用户的事件表')")
    rc, so, se = cli(["export", "db", p, "--to", f"{PG_URL}?schema={clash}", "--replace-foreign"])
    assert rc == 2 and "events" in se and "never dropped" in se
    with _pg() as con:
        assert con.execute(f"SELECT what FROM {clash}.events").fetchall() == [("用户的事件表",)]
        con.execute(f"DROP SCHEMA {clash} CASCADE")
        con.execute(f"DROP SCHEMA {schema} CASCADE")
        con.execute("DELETE FROM public.layer_styles WHERE f_table_schema IN (%s, %s)", (schema, clash))


@needs_pg
def test_postgis_a_view_on_a_release_table_stops_the_swap_cleanly(projects, cli):
    p, _ = projects
    schema = "st_target_view"
    url = f"{PG_URL}?schema={schema}"
    with _pg() as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    assert cli(["export", "db", p, "--to", url])[0] == 0
    with _pg() as con:
        con.execute(f"CREATE VIEW {schema}.my_grid_view AS SELECT count(*) AS n FROM {schema}.unit_grids")
        rid = con.execute(f"SELECT value FROM {schema}.release_meta WHERE key = 'release_id'").fetchone()[0]
    rc, so, se = cli(["export", "db", p, "--to", url])
    assert rc == 2 and "unit_grids" in se and "my_grid_view" in se
    with _pg() as con:  # the previous release and the view are intact
        assert con.execute(f"SELECT value FROM {schema}.release_meta WHERE key = 'release_id'").fetchone()[0] == rid
        assert con.execute(f"SELECT n FROM {schema}.my_grid_view").fetchone()[0] > 0
        con.execute(f"DROP SCHEMA {schema} CASCADE")
        con.execute("DELETE FROM public.layer_styles WHERE f_table_schema = %s", (schema,))
