"""A small YAML reader for the profile files, in the standard library only.

The QGIS plugin reads the profiles inside QGIS's own Python, which is guaranteed to hold the
standard library, ``qgis`` and ``qgis.PyQt`` and nothing else (PyYAML is there on most installs,
but not promised).  The profile files (``profile.yaml``, ``layers_*.yaml``) use a small part of
YAML: block mappings and sequences, flow ``[…]`` and ``{…}``, single and double quoted strings,
plain scalars (also continued over several lines), literal and folded block scalars (``|``,
``>``, with ``-`` / ``+`` chomping) and comments.  This module reads exactly that part and gives
the same values as ``yaml.safe_load`` (tests/test_profiles_light.py compares both on every YAML
file under ``standards/``, the rule catalogue included); anything else (anchors, tags,
multi-document streams) raises :class:`MiniYamlError` naming the file and line instead of
guessing.
"""
from __future__ import annotations

import re

__all__ = ["MiniYamlError", "loads"]


class MiniYamlError(ValueError):
    def __init__(self, message: str, line: int | None = None, source: str = ""):
        where = f"{source or '<yaml>'}" + (f":{line}" if line else "")
        super().__init__(f"{where}: {message}")
        self.line = line
        self.source = source


_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
_FLOAT = re.compile(r"^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?$|^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
         "yes": True, "Yes": True, "YES": True, "no": False, "No": False, "NO": False,
         "on": True, "On": True, "ON": True, "off": False, "Off": False, "OFF": False}
_NULL = {"", "~", "null", "Null", "NULL"}


def _plain(s: str, line: int, source: str):
    """Resolve a plain scalar the way PyYAML's SafeLoader does (YAML 1.1) for the forms used here."""
    s = s.strip()
    if s in _NULL:
        return None
    if s in _BOOL:
        return _BOOL[s]
    if _INT.match(s):
        return int(s.replace("_", ""))
    if re.match(r"^[-+]?0[0-7_]+$", s) or re.match(r"^[-+]?0[xXbB]", s) or ":" in s and re.match(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+$", s):
        raise MiniYamlError(f"unsupported number form {s!r}: quote it", line, source)
    if _FLOAT.match(s) and any(c.isdigit() for c in s):
        return float(s.replace("_", ""))
    if s in (".inf", ".Inf", "+.inf", "-.inf", ".nan", ".NaN"):
        return float(s.replace(".", "").replace("Inf", "inf").replace("NaN", "nan"))
    if s[0] in "&*!|>%@`":
        raise MiniYamlError(f"unsupported YAML construct {s[:20]!r}", line, source)
    return s


def _strip_comment(text: str) -> str:
    """Remove a trailing ``# comment`` that is outside quotes."""
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                if quote == "'" and i + 1 < len(text) and text[i + 1] == "'":
                    continue
                if quote == '"' and text[i - 1] == "\\" and not text[:i].endswith("\\\\"):
                    continue
                quote = None
        elif ch in "'\"" and (i == 0 or text[i - 1] in " \t[{,:-"):
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


class _Flow:
    """Recursive-descent reader of one inline value (flow collections, quoted and plain scalars)."""

    def __init__(self, text: str, line: int, source: str):
        self.s, self.i, self.line, self.source = text, 0, line, source

    def error(self, msg):
        raise MiniYamlError(msg, self.line, self.source)

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def value(self, flow: bool):
        self.ws()
        if self.i >= len(self.s):
            return None
        ch = self.s[self.i]
        if ch == "[":
            return self.seq()
        if ch == "{":
            return self.map()
        if ch in "'\"":
            return self.quoted()
        return self.plain(flow)

    def quoted(self):
        q = self.s[self.i]
        self.i += 1
        out = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if q == "'" and ch == "'":
                if self.s[self.i + 1:self.i + 2] == "'":
                    out.append("'")
                    self.i += 2
                    continue
                self.i += 1
                return "".join(out)
            if q == '"' and ch == "\\":
                nxt = self.s[self.i + 1:self.i + 2]
                esc = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/", "0": "\0", "r": "\r", " ": " "}
                if nxt in esc:
                    out.append(esc[nxt])
                    self.i += 2
                    continue
                if nxt in ("u", "x", "U"):
                    n = {"x": 2, "u": 4, "U": 8}[nxt]
                    out.append(chr(int(self.s[self.i + 2:self.i + 2 + n], 16)))
                    self.i += 2 + n
                    continue
                self.error(f"unsupported escape \\{nxt}")
            if q == '"' and ch == '"':
                self.i += 1
                return "".join(out)
            out.append(ch)
            self.i += 1
        self.error("unterminated quoted string")

    def plain(self, flow: bool):
        start = self.i
        while self.i < len(self.s):
            ch = self.s[self.i]
            if flow and ch in ",]}":
                break
            if flow and ch == ":" and (self.i + 1 >= len(self.s) or self.s[self.i + 1] in " ,]}"):
                break
            self.i += 1
        return _plain(self.s[start:self.i], self.line, self.source)

    def seq(self):
        self.i += 1
        out = []
        while True:
            self.ws()
            if self.i >= len(self.s):
                self.error("unterminated [")
            if self.s[self.i] == "]":
                self.i += 1
                return out
            out.append(self.value(True))
            self.ws()
            if self.i < len(self.s) and self.s[self.i] == ",":
                self.i += 1
            elif self.i < len(self.s) and self.s[self.i] != "]":
                self.error(f"expected , or ] at column {self.i + 1}")

    def map(self):
        self.i += 1
        out = {}
        while True:
            self.ws()
            if self.i >= len(self.s):
                self.error("unterminated {")
            if self.s[self.i] == "}":
                self.i += 1
                return out
            key = self.value(True)
            self.ws()
            if self.i < len(self.s) and self.s[self.i] == ":":
                self.i += 1
                val = self.value(True)
            else:
                val = None
            out[key] = val
            self.ws()
            if self.i < len(self.s) and self.s[self.i] == ",":
                self.i += 1
            elif self.i < len(self.s) and self.s[self.i] != "}":
                self.error(f"expected , or }} at column {self.i + 1}")


def _inline(text: str, line: int, source: str):
    f = _Flow(text, line, source)
    v = f.value(False)
    f.ws()
    if f.i != len(text):
        f.error(f"unexpected text after the value: {text[f.i:]!r}")
    return v


def _split_key(text: str, line: int, source: str):
    """``key: rest`` → (key, rest) or ``None`` when the line is not a mapping entry."""
    if text[:1] in "'\"":
        f = _Flow(text, line, source)
        key = f.quoted()
        rest = text[f.i:]
        if rest.startswith(":") and (len(rest) == 1 or rest[1] in " \t"):
            return key, rest[1:].strip()
        return None
    m = re.match(r"^([^\[\]{},#'\"][^#]*?):(\s+|$)", text)
    if not m:
        return None
    return _plain(m.group(1), line, source), text[m.end():].strip()


def loads(text: str, source: str = ""):
    """Parse ``text`` (the YAML subset described in the module docstring)."""
    raw_lines = text.splitlines()
    lines = []
    for n, raw in enumerate(raw_lines, start=1):
        if raw.strip() in ("---", "...") and not lines:
            continue
        if "\t" in raw[:len(raw) - len(raw.lstrip())]:
            raise MiniYamlError("tab in indentation", n, source)
        body = _strip_comment(raw)
        if not body.strip():
            continue
        indent = len(body) - len(body.lstrip(" "))
        lines.append((indent, body.strip(), n))
    if not lines:
        return None
    pos = [0]

    def scalar_block(header: str, parent_indent: int, n0: int) -> str:
        """A literal (``|``) or folded (``>``) block scalar starting after raw line ``n0``."""
        style, chomp = header[0], header[1:].strip()
        if chomp not in ("", "-", "+"):
            raise MiniYamlError(f"unsupported block scalar header {header!r}", n0, source)
        content, last, block_indent = [], n0, None
        for i in range(n0, len(raw_lines)):
            raw = raw_lines[i]
            if not raw.strip():
                content.append("")
                continue
            ind = len(raw) - len(raw.lstrip(" "))
            if ind <= parent_indent:
                break
            if block_indent is None:
                block_indent = ind
            content.append(raw[block_indent:] if ind >= block_indent else raw.strip())
            last = i + 1
        while pos[0] < len(lines) and lines[pos[0]][2] <= last:
            pos[0] += 1
        trailing = 0  # blank lines after the text: kept only with "+"
        while content and content[-1] == "":
            content.pop()
            trailing += 1
        if style == "|":
            body = "\n".join(content)
        else:
            parts = []
            for i, ln in enumerate(content):
                prev = content[i - 1] if i else None
                if i == 0:
                    parts.append(ln)
                elif ln == "":
                    parts.append("\n")
                elif prev == "":
                    parts.append(ln)
                elif ln.startswith(" ") or prev.startswith(" "):
                    parts.append("\n" + ln)
                else:
                    parts.append(" " + ln)
            body = "".join(parts)
        if not content:
            return ""
        if chomp == "-":
            return body
        if chomp == "+":
            return body + "\n" * (trailing + 1)
        return body + "\n"

    def inline_value(rest: str, indent: int, n0: int):
        """An inline value, continued on the following more-indented lines (a flow collection or
        a plain / quoted scalar spread over several lines is folded with spaces)."""
        parts = [rest]
        while pos[0] < len(lines) and lines[pos[0]][0] > indent:
            parts.append(lines[pos[0]][1])
            pos[0] += 1
        return _inline(" ".join(parts), n0, source)

    def block(indent):
        ind, text0, n0 = lines[pos[0]]
        if text0 == "-" or text0.startswith("- "):
            return seq(ind)
        if _split_key(text0, n0, source) is not None:
            return mapping(ind)
        pos[0] += 1
        return inline_value(text0, ind, n0)

    def child(parent_indent, n):
        """The nested block after ``key:`` / ``-`` (or None when there is none)."""
        if pos[0] < len(lines) and lines[pos[0]][0] > parent_indent:
            return block(lines[pos[0]][0])
        return None

    def mapping(indent):
        out = {}
        while pos[0] < len(lines):
            ind, text0, n0 = lines[pos[0]]
            if ind < indent:
                break
            if ind > indent:
                raise MiniYamlError("bad indentation", n0, source)
            kv = _split_key(text0, n0, source)
            if kv is None:
                raise MiniYamlError(f"expected 'key: value', got {text0[:30]!r}", n0, source)
            key, rest = kv
            pos[0] += 1
            if key in out:
                pass  # PyYAML keeps the last value
            if rest:
                if rest[0] in "&*!":
                    raise MiniYamlError(f"unsupported YAML construct {rest[:10]!r}", n0, source)
                if rest[0] in "|>":
                    out[key] = scalar_block(rest, indent, n0)
                else:
                    out[key] = inline_value(rest, indent, n0)
            else:
                out[key] = child(indent, n0)
                # a block sequence may sit at the key's own indentation
                if out[key] is None and pos[0] < len(lines) and lines[pos[0]][0] == indent and \
                        (lines[pos[0]][1] == "-" or lines[pos[0]][1].startswith("- ")):
                    out[key] = seq(indent)
        return out

    def seq(indent):
        out = []
        while pos[0] < len(lines):
            ind, text0, n0 = lines[pos[0]]
            if ind != indent or not (text0 == "-" or text0.startswith("- ")):
                if ind > indent:
                    raise MiniYamlError("bad indentation", n0, source)
                break
            item = text0[1:].strip()
            if not item:
                pos[0] += 1
                out.append(child(indent, n0))
                continue
            sub = ind + (len(text0) - len(text0[1:].lstrip()))
            if item[0] not in "[{'\"" and _split_key(item, n0, source) is not None or \
                    item[0] in "'\"" and _split_key(item, n0, source) is not None:
                lines[pos[0]] = (sub, item, n0)  # "- key: value" opens a mapping at the item's column
                out.append(mapping(sub))
                continue
            pos[0] += 1
            out.append(scalar_block(item, indent, n0) if item[0] in "|>" else inline_value(item, indent, n0))
        return out

    value = block(lines[0][0])
    if pos[0] < len(lines):
        raise MiniYamlError("unexpected content", lines[pos[0]][2], source)
    return value
