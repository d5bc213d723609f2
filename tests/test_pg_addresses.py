"""Bad PostGIS addresses and failed connections: exit 2 with a bilingual message that says what is
wrong (scheme typo, port typo, unknown host, no such database, missing schema), never a traceback,
never an internal error, never the password.  The address checks need no server; the connection
checks use the PostGIS that scripts/run_tests.sh starts (SURVEYTOOLS_PG_URL)."""
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from surveytools.errors import SurveyError
from surveytools.store import pg

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("SURVEYTOOLS_PG_URL")
SECRET = "s3cretPW"


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), SURVEYTOOLS_LANG="both")
    r = subprocess.run([sys.executable, "-m", "surveytools.cli", *args, "--json"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert "Traceback" not in r.stderr and "内部错误" not in r.stderr and "Internal error" not in r.stderr, r.stderr
    assert SECRET not in r.stdout + r.stderr
    return r.returncode, (json.loads(r.stdout)["error"] if r.stdout.strip() else None), r.stderr


def test_label_hides_the_password_of_the_user_part_and_of_a_password_parameter():
    assert pg.label(f"postgresql://u:{SECRET}@h:5432/db?schema=x") == "postgresql://u@h:5432/db?schema=x"
    assert pg.label(f"postgresql://u@h/db?schema=x&password={SECRET}") == "postgresql://u@h/db?schema=x"
    assert pg.label(f"postgresql://u:{SECRET}@h:54x2/db?schema=x") == "postgresql://u@h:54x2/db?schema=x"


@pytest.mark.parametrize("address", [f"postgresq://u:{SECRET}@127.0.0.1:5432/db?schema=city",
                                     f"postgis://u:{SECRET}@127.0.0.1/db?schema=city"])
def test_a_misspelt_scheme_is_named_not_taken_for_a_missing_file(address, tmp_path):
    for args in (("project", "info", address), ("project", "init", address, "--county", "360681"),
                 ("validate", "run", address, "--out", str(tmp_path / "qc"))):
        rc, err, text = _cli(*args)
        assert rc == 2 and err["code"] == "bad_uri", text
        scheme = address.split("://")[0]
        assert f"{scheme}://" in err["message"]["zh"] and f"{scheme}://" in err["message"]["en"]


def test_a_misspelt_release_scheme_is_named(tmp_path):
    from surveytools.export.ops import db

    with pytest.raises(SurveyError) as e:
        db(str(tmp_path / "missing.gpkg"), to=f"postgis://u:{SECRET}@h/db?schema=rel")
    assert e.value.code == "bad_uri" and SECRET not in e.value.render()


@pytest.mark.parametrize("port", ["54x32", "99999"])
def test_a_bad_port_is_exit_2_naming_it(port):
    rc, err, text = _cli("project", "info", f"postgresql://u:{SECRET}@127.0.0.1:{port}/db?schema=city")
    assert rc == 2 and err["code"] == "bad_uri" and err["value"] == port, text
    with pytest.raises(SurveyError) as e:
        pg.location(f"postgresql://u:{SECRET}@127.0.0.1:{port}/db?schema=city")
    assert e.value.code == "bad_uri"


def test_connection_failures_say_why_first():
    class E(Exception):
        pass

    cases = {
        'connection failed: FATAL:  password authentication failed for user "u"': ("用户名或密码错误", "wrong user name or password"),
        "failed to resolve host 'nohost': [Errno -2] Name or service not known": ("找不到主机", "unknown host"),
        "connection failed: Connection refused\n\tIs the server running": ("没有运行 PostgreSQL", "no PostgreSQL server"),
        'connection failed: FATAL:  database "nodb" does not exist': ("不存在", "does not exist"),
        "connection failed: fe_sendauth: no password supplied": ("没有提供", "none was given"),
    }
    for text, (zh, en) in cases.items():
        err = pg.connect_error(E(text), f"postgresql://u:{SECRET}@h/db?schema=x")
        assert err.code == "pg_connect" and zh in err.message.zh and en in err.message.en
        assert SECRET not in err.render() and err.file == "postgresql://u@h/db?schema=x"


needs_pg = pytest.mark.skipif(not PG_URL, reason="SURVEYTOOLS_PG_URL is not set (scripts/run_tests.sh starts PostGIS)")


def _with(user=None, db=None, schema="city", port=None):
    u = urlsplit(PG_URL)
    netloc = f"{user or u.username}:{SECRET}@{u.hostname}:{port or u.port}"
    return u._replace(netloc=netloc, path="/" + (db or u.path.lstrip("/"))).geturl() + f"?schema={schema}"


@needs_pg
def test_on_a_real_server_no_such_database_refused_port_and_unknown_host_are_exit_2():
    rc, err, text = _cli("project", "info", _with(db="no_such_db_st"))
    assert rc == 2 and err["code"] == "pg_connect" and "no_such_db_st" in err["message"]["en"], text
    rc, err, text = _cli("project", "info", _with(port=1))
    assert rc == 2 and err["code"] == "pg_connect" and "connection refused" in err["message"]["en"].lower(), text
    rc, err, text = _cli("project", "info", f"postgresql://u:{SECRET}@no-such-host.invalid:5432/db?schema=city")
    assert rc == 2 and err["code"] == "pg_connect" and "找不到主机" in err["message"]["zh"], text


@needs_pg
def test_on_a_real_server_a_missing_schema_and_a_foreign_schema_are_exit_2(tmp_path):
    rc, err, text = _cli("project", "info", _with(schema="st_no_such_schema"))
    assert rc == 2 and err["code"] == "not_project" and "st_no_such_schema" in err["message"]["zh"], text
    assert "没有模式" in err["message"]["zh"] and "has no schema" in err["message"]["en"]
    rc, err, text = _cli("validate", "run", _with(schema="st_no_such_schema"), "--out", str(tmp_path / "qc"))
    assert rc == 2 and err["code"] == "not_project", text


@needs_pg
def test_project_qgis_on_a_postgis_project_is_a_clear_error_not_a_missing_file(tmp_path):
    """``project qgis`` handed the URI to QGIS, which took it for a file: '<cwd>/postgresql:/…' does not exist."""
    import uuid

    from surveytools import project

    schema = "st_" + uuid.uuid4().hex[:10]
    uri = f"{PG_URL}?schema={schema}"
    project.init(project=uri, county="360681")
    try:
        rc, err, text = _cli("project", "qgis", uri, "--out", str(tmp_path / "p.qgz"))
        assert rc == 2 and err["code"] == "not_for_postgis", text
        assert "打开 PostGIS" in err["message"]["zh"] and "Open PostGIS" in err["message"]["en"]
        assert "postgresql:/" + "/" in err["file"] and not (tmp_path / "p.qgz").exists()
    finally:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@needs_pg
def test_a_database_without_postgis_is_exit_2_telling_the_administrator_what_to_run():
    import uuid

    import psycopg

    tag = uuid.uuid4().hex[:8]
    role, db = f"st_nogis_{tag}", f"st_nogis_{tag}"
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(f"CREATE ROLE {role} LOGIN")
        con.execute(f"CREATE DATABASE {db} OWNER {role}")
    try:
        u = urlsplit(PG_URL)
        uri = u._replace(netloc=f"{role}:{SECRET}@{u.hostname}:{u.port}", path=f"/{db}").geturl() + "?schema=city"
        rc, err, text = _cli("project", "init", uri, "--county", "360681")
        assert rc == 2 and err["code"] == "no_postgis", text
        assert "CREATE EXTENSION postgis" in err["hint"]["zh"] and "CREATE EXTENSION postgis" in err["hint"]["en"]
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {db}")
            con.execute(f"DROP ROLE IF EXISTS {role}")
