"""Operations used only by the plugin tests.

The plugin runs every operation in a child process (``surveytools.runner``), so test operations
live in a module that the child can import: the tests put this folder on ``PYTHONPATH`` and name
the module in ``SURVEYTOOLS_EXTRA_OPS``.
"""
import json
import os
import time
from pathlib import Path

from surveytools import ops
from surveytools.errors import SurveyError
from surveytools.i18n import Text
from surveytools.ops import Param, Result

h = Text
ops.group("selftest", Text("自测", "Self test"))


@ops.operation("selftest", "echo", Text("回显参数。仅用于测试。", "Echo the parameters. For tests only."), [
    Param("layer", "layer_in", h("输入图层", "input layer")),
    Param("count", "int", h("数量", "count"), default=3),
    Param("ratio", "float", h("比例", "ratio"), default=0.5),
    Param("flag", "bool", h("开关", "flag")),
    Param("mode", "enum", h("模式", "mode"), choices=("alpha", "beta"), default="alpha"),
    Param("name", "string", h("名称", "name")),
    Param("crs", "crs", h("坐标系", "CRS")),
    Param("tags", "string", h("标签", "tags"), multiple=True),
    Param("out", "file_out", h("输出", "output"), required=True, file_filter="JSON (*.json)"),
])
def echo(feedback=None, **kw):
    feedback.info(Text("回显参数", "echoing parameters"))
    feedback.progress(50)
    if kw["name"] == "bad":
        raise SurveyError(Text("名称不合法", "invalid name"), field="name", value=kw["name"])
    kw["tags"] = list(kw.get("tags") or [])
    Path(kw["out"]).write_text(json.dumps(kw, ensure_ascii=False), encoding="utf-8")
    return Result(Text("完成", "done"), data={"n": 1}, outputs={"OUT": kw["out"]})


@ops.operation("selftest", "loop", Text("循环。", "Loop."), [
    Param("out", "file_out", h("输出", "output"), required=True),
    Param("steps", "int", h("步数", "steps"), default=100),
])
def loop(feedback=None, out=None, steps=100):
    marker = Path(str(out) + ".step")
    for i in range(steps):
        tmp = marker.with_name(marker.name + ".new")  # replaced whole: a cancel mid-write never leaves it empty
        tmp.write_text(str(i))
        os.replace(tmp, marker)
        feedback.progress(100.0 * i / steps)
        time.sleep(0.05)
    Path(out).write_text("finished", encoding="utf-8")
    return Result(Text("完成", "done"), outputs={"OUT": out})


@ops.operation("selftest", "boom", Text("内部错误。", "Internal error."), [
    Param("out", "file_out", h("输出", "output"), required=True),
])
def boom(feedback=None, out=None):
    raise RuntimeError("something internal broke")
