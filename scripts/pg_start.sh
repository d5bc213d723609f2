# Source me: starts a throwaway PostGIS cluster on 127.0.0.1 and exports PGHOST, PGPORT, PGUSER,
# PGDATABASE=gis and SURVEYTOOLS_PG_URL; defines pg_stop.  PostgreSQL refuses to run as root, so
# the server runs as the 'postgres' user (Debian's package creates it).
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
PGPORT=${PGPORT:-54329}
while pg_isready -q -h 127.0.0.1 -p "$PGPORT" 2>/dev/null || [ -e "/tmp/.s.PGSQL.$PGPORT" ]; do PGPORT=$((PGPORT+1)); done
export PGPORT PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=gis
PGTEST_ROOT=$(mktemp -d /tmp/pgtest.XXXXXX)
_PGRUN=""
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PGTEST_ROOT"; _PGRUN="runuser -u postgres --"; fi
$_PGRUN "$PGBIN/initdb" -D "$PGTEST_ROOT/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
$_PGRUN "$PGBIN/pg_ctl" -D "$PGTEST_ROOT/data" -l "$PGTEST_ROOT/log" -w -o "-p $PGPORT -k $PGTEST_ROOT -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
psql -d postgres -qc "CREATE DATABASE gis" && psql -qc "CREATE EXTENSION postgis"
export PGTEST_ROOT SURVEYTOOLS_PG_URL="postgresql://postgres@127.0.0.1:$PGPORT/gis"
pg_stop() { $_PGRUN "$PGBIN/pg_ctl" -D "$PGTEST_ROOT/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PGTEST_ROOT"; }
echo "[pg] PostGIS on 127.0.0.1:$PGPORT (database gis)"
