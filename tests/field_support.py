"""Edit a field package the way QField does (through SQLite with the GeoPackage geometry
functions GDAL/QGIS register, so the R-tree triggers run as on the phone)."""
import datetime as dt
import sqlite3
import struct
import uuid

import shapely


def to_blob(geom, srs_id: int) -> bytes:
    minx, miny, maxx, maxy = geom.bounds
    header = b"GP" + bytes([0, 0b00000011]) + struct.pack("<i", srs_id) + struct.pack("<4d", minx, maxx, miny, maxy)
    return header + shapely.to_wkb(geom, output_dimension=2, byte_order=1)


def from_blob(blob):
    if blob is None:
        return None
    flags = blob[3]
    env = (flags >> 1) & 0b111
    size = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[env]
    return shapely.from_wkb(bytes(blob[8 + size:]))


def connect(path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), isolation_level=None)

    def f(fn):
        return lambda b: None if b is None else fn(from_blob(b))

    con.create_function("ST_MinX", 1, f(lambda g: g.bounds[0]))
    con.create_function("ST_MinY", 1, f(lambda g: g.bounds[1]))
    con.create_function("ST_MaxX", 1, f(lambda g: g.bounds[2]))
    con.create_function("ST_MaxY", 1, f(lambda g: g.bounds[3]))
    con.create_function("ST_IsEmpty", 1, lambda b: 1 if b is None else int(from_blob(b).is_empty))
    return con


def srs_of(con, table: str) -> int:
    return con.execute("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = ?", (table,)).fetchone()[0]


def rows(con, table: str, where: str = "1 = 1", params=()):
    cur = con.execute(f'SELECT * FROM "{table}" WHERE {where}', params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def insert_feature(con, table: str, values: dict, geom) -> str:
    """A new feature with a new UUID (QField's default expression uuid())."""
    u = "{" + str(uuid.uuid4()) + "}"
    vals = dict(values, uuid=u, geom=to_blob(geom, srs_of(con, table)),
                survey_time=dt.datetime.now().replace(microsecond=0).isoformat())
    cols = ", ".join(f'"{k}"' for k in vals)
    con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(vals))})', list(vals.values()))
    return u


def update(con, table: str, u: str, **values) -> None:
    sets = ", ".join(f'"{k}" = ?' for k in values)
    con.execute(f'UPDATE "{table}" SET {sets} WHERE uuid = ?', list(values.values()) + [u])


def move(con, table: str, u: str, dx: float, dy: float) -> None:
    blob = con.execute(f'SELECT geom FROM "{table}" WHERE uuid = ?', (u,)).fetchone()[0]
    g = shapely.transform(from_blob(blob), lambda c: c + [dx, dy])
    con.execute(f'UPDATE "{table}" SET geom = ? WHERE uuid = ?', (to_blob(g, srs_of(con, table)), u))


def delete(con, table: str, u: str) -> None:
    con.execute(f'DELETE FROM "{table}" WHERE uuid = ?', (u,))


def add_photo(con, folder, feature_uuid: str, layer: str, name: str, *, bearing=None, color=(200, 30, 30)) -> str:
    """A JPEG under DCIM/ (with EXIF time and bearing) and its row in ``photos``."""
    from PIL import Image

    (folder / "DCIM").mkdir(exist_ok=True)
    path = folder / "DCIM" / name
    im = Image.new("RGB", (64, 48), color)
    ex = Image.Exif()
    ex[0x8769] = {36867: "2026:11:20 10:11:12"}
    if bearing is not None:
        ex[0x8825] = {16: "T", 17: float(bearing)}
    im.save(path, "JPEG", exif=ex.tobytes())
    pid = "{" + str(uuid.uuid4()) + "}"
    con.execute('INSERT INTO photos (photo_id, feature_uuid, layer, path, taken) VALUES (?, ?, ?, ?, ?)',
                (pid, feature_uuid, layer, f"DCIM/{name}", "2026-11-20T10:11:12"))
    return pid
