"""Saved QGIS PostgreSQL connections for the algorithms: their URL (never with the password) and
their password (passed to the child process in a temporary pgpass file, see
:func:`surveytools.runner.run_out_of_process`, never on its command line or in a URI).

A connection's password is the one saved in it, or the user name and password of its
authentication configuration (``authcfg``, QGIS's encrypted store)."""
from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from qgis.core import QgsApplication, QgsDataSourceUri, QgsProviderRegistry

DEFAULT_PORT = "5432"


def connections() -> dict:
    """name -> QGIS data source URI of the saved PostgreSQL connections."""
    try:
        md = QgsProviderRegistry.instance().providerMetadata("postgres")
        return {name: conn.uri() for name, conn in (md.connections() if md is not None else {}).items()}
    except Exception:  # the provider is missing in this QGIS
        return {}


def _credentials(u: QgsDataSourceUri) -> tuple[str, str]:
    """(user, password) of a data source URI, its authentication configuration's if it has one."""
    user, password = u.username() or "", u.password() or ""
    if u.authConfigId():
        try:
            from qgis.core import QgsAuthMethodConfig

            cfg = QgsAuthMethodConfig()
            if QgsApplication.authManager().loadAuthenticationConfig(u.authConfigId(), cfg, True):
                user = cfg.config("username", "") or user
                password = cfg.config("password", "") or password
        except Exception:  # no usable auth database: libpq's own sources (pgpass) remain
            pass
    return user, password


def connection_url(name: str) -> str:
    """``postgresql://USER@HOST:PORT/DB`` of a saved connection (no password; ``?service=`` for a service)."""
    u = QgsDataSourceUri(connections()[name])
    user, _ = _credentials(u)
    if u.service():
        return f"postgresql://{quote(user, safe='') + '@' if user else ''}?service={quote(u.service(), safe='')}"
    port = f":{u.port()}" if u.port() else ""
    return f"postgresql://{quote(user, safe='') + '@' if user else ''}{u.host() or 'localhost'}{port}/" \
           f"{quote(u.database() or '', safe='')}"


def _same(a: str, b: str) -> bool:
    return (a or "").lower() == (b or "").lower()


def saved_passwords(values) -> list:
    """The pgpass entries (host, port, database, user, password) that the saved connections hold
    for the ``postgresql://`` URLs among ``values`` (strings or lists of strings): a connection
    matches a URL with the same host, port, database and user."""
    urls = []
    for v in values:
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(x, str) and x.lower().startswith(("postgresql://", "postgres://")):
                urls.append(urlsplit(x))
    if not urls:
        return []
    saved = []
    for uri in connections().values():
        u = QgsDataSourceUri(uri)
        user, password = _credentials(u)
        if password and not u.service():
            saved.append((u.host() or "localhost", str(u.port() or DEFAULT_PORT), u.database() or "", user, password))
    out = []
    for p in urls:
        host, port = p.hostname or "localhost", str(p.port or DEFAULT_PORT)
        db, user = unquote(p.path.lstrip("/")), unquote(p.username or "")
        for s in saved:
            if _same(s[0], host) and s[1] == port and s[2] == db and (not user or s[3] == user):
                entry = (host, port, db, user or s[3], s[4])
                if entry not in out:
                    out.append(entry)
                break
    return out
