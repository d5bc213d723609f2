"""Write a GeoPackage layer in a helper process from Arrow batches, so that the caller prepares
batch k+1 while GDAL writes batch k.

pyogrio holds the GIL for the whole of ``write_arrow`` (measured: a Python thread makes no
progress during the write), so a thread cannot overlap the preparation of a million records
with their writing.  A child process can: the parent streams Arrow IPC batches through the
child's stdin and the child feeds them to ``write_arrow`` as a record-batch reader (a pipe is as
fast as shared memory here: measured).  The child is started first
(``python -m surveytools.components.streamwrite``) and imports pyogrio while the parent reads the
delivery.  Where no child can be started the caller writes in-process.

Protocol on the child's stdin: one JSON line (``path``, ``layer``, ``geometry_type``, ``crs``,
``description``; an empty line means "nothing to write"), then an Arrow IPC stream.  The child
prints one JSON line on stdout: ``{"ok": true}`` or ``{"ok": false, "error": …}``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys


class StreamWriter:
    def __init__(self):
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen([sys.executable, "-m", "surveytools.components.streamwrite"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=1 << 20)
        self.writer = None
        self.sink = None
        self.rows = 0

    @classmethod
    def maybe(cls):
        """A writer, or None when helper processes are disabled (``SURVEYTOOLS_STREAM_WRITE=0``)
        or cannot be started."""
        if os.environ.get("SURVEYTOOLS_STREAM_WRITE", "1") == "0":
            return None
        try:
            return cls()
        except OSError:
            return None

    def begin(self, path, layer, schema, *, geometry_type, crs, description=None, spatial_index=True,
              in_place=False) -> None:
        """``in_place``: ``path`` is the project itself (WAL), written under a staged table name
        (see :meth:`surveytools.store.gpkg.Transaction.direct_target`), not a private staging file."""
        import pyarrow as pa

        params = {"path": str(path), "layer": layer, "geometry_type": geometry_type, "crs": crs,
                  "description": description, "spatial_index": bool(spatial_index), "in_place": bool(in_place)}
        try:
            self.proc.stdin.write((json.dumps(params, ensure_ascii=False) + "\n").encode("utf-8"))
            self.sink = pa.PythonFile(self.proc.stdin, mode="w")
            self.writer = pa.ipc.new_stream(self.sink, schema)
        except (BrokenPipeError, OSError):
            self._fail()

    def write(self, batch) -> None:
        try:
            self.writer.write_batch(batch)
        except (BrokenPipeError, OSError):
            self._fail()
        self.rows += batch.num_rows

    def finish(self) -> int:
        try:
            self.writer.close()
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            self._fail()
        out = self.proc.stdout.read().decode("utf-8", "replace").strip().splitlines()
        rc = self.proc.wait()
        res = json.loads(out[-1]) if out else {"ok": False, "error": f"exit status {rc}"}
        if not res.get("ok"):
            self._raise(res.get("error"))
        return self.rows

    def close(self) -> None:
        """Not needed after all: let the child exit."""
        try:
            if self.writer is None:
                self.proc.stdin.write(b"\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self.proc.wait()

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def _fail(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        out = self.proc.stdout.read().decode("utf-8", "replace").strip().splitlines()
        err = f"exit status {self.proc.returncode}"
        if out:
            try:
                err = json.loads(out[-1]).get("error") or err
            except ValueError:
                pass
        self._raise(err)

    @staticmethod
    def _raise(err):
        from ..errors import SurveyError
        from ..i18n import Text

        raise SurveyError(Text(f"写入图层失败：{err}", f"writing the layer failed: {err}"), code="write_failed")


def main() -> int:
    inp = sys.stdin.buffer
    line = inp.readline()
    if not line.strip():
        return 0
    try:
        import pyarrow as pa
        import pyogrio

        from ..gpkg import write_layer

        p = json.loads(line)
        if not p.get("in_place"):
            # a private staging file, moved into the project by the commit: SQLite's rollback
            # journal only costs time there (the project itself keeps its write-ahead log)
            pyogrio.set_gdal_config_options({"OGR_SQLITE_JOURNAL": "OFF"})
        reader = pa.ipc.open_stream(pa.PythonFile(inp, mode="r"))
        write_layer(p["path"], p["layer"], reader, geometry_type=p["geometry_type"], crs=p["crs"],
                    description=p.get("description"), spatial_index=p.get("spatial_index", True),
                    durable=bool(p.get("in_place")))
        print(json.dumps({"ok": True}), flush=True)
        return 0
    except BaseException as e:  # reported to the parent, which raises a SurveyError
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}, ensure_ascii=False), flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
