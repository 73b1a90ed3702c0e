"""``--set KEY=VALUE`` overrides of an input file, applied to the parsed TOML document before
validation (so an override is checked exactly like the same value written in the file).

``KEY`` is a dotted key path with list indices as the error messages print them:
``md.production_ps``, ``active_learning.levels[0].exploration_ps``, ``materials[1].supercell``.
``VALUE`` is a TOML value (``2``, ``2.5``, ``"text"``, ``[1, 1, 1]``, ``true``); a bare word that
is not valid TOML is taken as a string. Tables and list entries must already exist in the file
(an override changes a value, it does not invent sections); a missing key inside an existing
table is added (the model then says whether it is allowed).
"""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any

from argyro_run.errors import UserError

_PART = re.compile(r"([A-Za-z0-9_-]+)((?:\[\d+\])*)")


def parse_key(key: str) -> list[str | int]:
    """``a.b[0].c`` -> ``['a', 'b', 0, 'c']``; ``UserError`` if malformed."""
    out: list[str | int] = []
    for part in key.split("."):
        m = _PART.fullmatch(part)
        if not m:
            raise UserError(f"--set {key}: not a key path (expected e.g. active_learning.levels[0].exploration_ps)")
        out.append(m.group(1))
        out += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return out


def parse_value(text: str) -> Any:
    """A TOML value; a bare word that is not TOML becomes a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(doc: dict, sets: list[str] | None) -> dict:
    """A copy of ``doc`` with every ``KEY=VALUE`` of ``sets`` applied (in order)."""
    out = copy.deepcopy(doc)
    for item in sets or []:
        if "=" not in item:
            raise UserError(f"--set {item}: expected KEY=VALUE (e.g. md.production_ps=100)")
        key, text = (s.strip() for s in item.split("=", 1))
        path = parse_key(key)
        node: Any = out
        for k, part in enumerate(path[:-1]):
            where = _show(path[:k + 1])
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    n = len(node) if isinstance(node, list) else 0
                    raise UserError(f"--set {key}: {where} does not exist (the input has {n} entr{'y' if n == 1 else 'ies'})")
                node = node[part]
            else:
                if not isinstance(node, dict):
                    raise UserError(f"--set {key}: {_show(path[:k])} is not a table")
                if part not in node:
                    raise UserError(f"--set {key}: {where} is not in the input file (an override changes a value "
                                    "of an existing table; write new sections into the file)")
                node = node[part]
        last = path[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise UserError(f"--set {key}: {key} does not exist in the input file")
        elif not isinstance(node, dict):
            raise UserError(f"--set {key}: {_show(path[:-1])} is not a table")
        node[last] = parse_value(text)
    return out


def _show(path: list[str | int]) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else p)
    return s
