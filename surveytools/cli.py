"""``surveytools`` command line: one command per registered operation.

Every command takes ``--json`` (machine-readable output on stdout) and exits non-zero on error:
2 for bad input or a failed check, 3 for an internal error, 130 when cancelled.
"""
from __future__ import annotations

import json
import math
import os
import sys
import traceback

import click

from . import __version__
from .errors import SurveyError, environment_error
from .feedback import ConsoleFeedback
from .i18n import Text
from .ops import DEFAULT_COMMANDS, GROUPS, KINDS, Operation, load_all

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

MAIN_HELP = Text(
    "数字化城管基础数据工具：单元网格划分与编码、部件事件分类编码、地理编码、质检、责任单位、"
    "案件系统数据库与指挥手册导出。每个命令都接受 --json 并在出错时以非零状态退出。",
    "Base data for digital urban management (数字化城管): unit grids, components and events, "
    "geocoding, validation, responsible units, case-system database and command manual. Every "
    "command accepts --json and exits non-zero on error.",
)


def _help(text: Text) -> str:
    return f"{text.zh}\n\n{text.en}"


def _short(text: Text) -> str:
    return f"{text.zh} / {text.en}"


def _click_type(p):
    if p.kind == "int":
        return click.INT
    if p.kind == "float":
        return click.FLOAT
    if p.kind == "enum":
        return click.Choice(list(p.choices), case_sensitive=False)
    return click.STRING


def json_safe(value):
    """``value`` with every NaN or infinite float replaced by None: ``--json`` prints standard JSON (``null``), which
    every parser reads, never Python's ``NaN`` (a rate over nothing checked, an RMS without offsets)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _echo(text: str, err: bool = False) -> None:
    """Print, never a PostgreSQL password (a ``postgresql://user:password@`` URI given as an argument)."""
    from .store.pg import mask_passwords

    click.echo(mask_passwords(text), err=err)


def _emit_error(err: dict, as_json: bool, text: str) -> None:
    if as_json:
        _echo(json.dumps({"ok": False, "error": err}, ensure_ascii=False, indent=2))
    _echo(text, err=True)


def run_operation(op: Operation, as_json: bool, quiet: bool, kwargs: dict) -> int:
    feedback = ConsoleFeedback(quiet=quiet or as_json)
    try:
        result = op.call(feedback=feedback, **kwargs)
    except SurveyError as e:
        _emit_error(e.as_dict(), as_json, e.render())
        return e.exit_code
    except KeyboardInterrupt:
        _emit_error({"code": "cancelled"}, as_json, "已取消 / Cancelled")
        return 130
    except Exception as e:  # never a traceback for the user unless asked for
        env = environment_error(e)  # permissions, full disk, a folder for a file: the user's to fix (exit 2)
        if env is not None:
            if os.environ.get("SURVEYTOOLS_DEBUG"):
                traceback.print_exc()
            _emit_error(env.as_dict(), as_json, env.render())
            return env.exit_code
        if os.environ.get("SURVEYTOOLS_DEBUG"):
            traceback.print_exc()
        msg = Text(f"内部错误：{type(e).__name__}: {e}。输出未被修改；请设置 SURVEYTOOLS_DEBUG=1 重试并报告此问题。",
                   f"Internal error: {type(e).__name__}: {e}. Outputs were left unchanged; rerun with "
                   "SURVEYTOOLS_DEBUG=1 and report the problem.")
        _emit_error({"code": "internal", "message": msg.as_dict()}, as_json, msg.render(sep="\n"))
        return 3
    result.warnings = list(result.warnings) + [w for w in feedback.warnings if w not in result.warnings]
    if as_json:
        _echo(json.dumps(json_safe(result.as_dict()), ensure_ascii=False, indent=2, default=str, allow_nan=False))
    elif result.failure is not None:  # completed, negative outcome (validation FAIL): an error for the shell
        _echo(result.failure.render(), err=True)
    else:
        _echo(result.summary.render(sep="\n"))
    return result.exit_code


def _make_command(op: Operation) -> click.Command:
    params = []
    for p in op.params:
        if p.positional:
            params.append(click.Argument([p.name], required=p.required, nargs=-1 if p.multiple else 1,
                                         type=_click_type(p)))
        elif p.kind == "bool":
            params.append(click.Option([p.cli_flag + "/" + "--no-" + p.cli_flag[2:]], default=bool(p.default),
                                       help=_short(p.help), show_default=True))
        else:
            # no default=None: click 8.3+ takes an explicit None as a default and no longer enforces required
            extra = {} if p.default is None else {"default": p.default}
            params.append(click.Option([p.cli_flag], required=p.required, multiple=p.multiple, type=_click_type(p),
                                       help=_short(p.help), show_default=p.default not in (None, (), []), **extra))
    params.append(click.Option(["--json", "as_json"], is_flag=True,
                               help="以 JSON 输出结果 / Print the result as JSON"))
    params.append(click.Option(["--quiet", "-q"], is_flag=True, help="不显示进度信息 / No progress messages"))

    def callback(as_json, quiet, **kwargs):
        for p in op.params:
            if p.multiple and kwargs.get(p.name) is not None:
                kwargs[p.name] = list(kwargs[p.name])
        sys.exit(run_operation(op, as_json, quiet, kwargs))

    return click.Command(op.name, callback=callback, params=params, help=_help(op.help),
                         short_help=op.help.zh, context_settings=CONTEXT)


class DefaultGroup(click.Group):
    """A group whose default command runs when the first argument is not a command name."""

    def __init__(self, *a, default: str | None = None, **kw):
        super().__init__(*a, **kw)
        self.default = default

    def parse_args(self, ctx, args):
        if self.default and args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


def build_cli() -> click.Group:
    ops = load_all()
    root = click.Group("surveytools", help=_help(MAIN_HELP), context_settings=CONTEXT)
    root = click.version_option(__version__, "--version", prog_name="surveytools")(root)
    groups: dict[str, click.Group] = {}
    for op in ops.values():
        if op.group not in groups:
            ghelp = GROUPS.get(op.group, Text(op.group, op.group))
            default = DEFAULT_COMMANDS.get(op.group)
            ghelp_text = _help(ghelp)
            if default:
                ghelp_text += (f"\n\n默认命令 / default command: {default} "
                               f"（surveytools {op.group} ARGS = surveytools {op.group} {default} ARGS）")
            groups[op.group] = DefaultGroup(op.group, help=ghelp_text, short_help=_short(ghelp),
                                            context_settings=CONTEXT, default=default)
            root.add_command(groups[op.group])
        groups[op.group].add_command(_make_command(op))
    return root


def _sigterm(signum, frame):
    raise KeyboardInterrupt  # unwinds through the atomic writers, which remove their temp files


def main(argv=None) -> None:
    import signal

    signal.signal(signal.SIGTERM, _sigterm)
    cli = build_cli()
    cli.main(args=argv, prog_name="surveytools")


assert KINDS  # the kinds are documented in ops.py


if __name__ == "__main__":  # pragma: no cover
    main()
