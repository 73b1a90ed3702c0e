"""Read, parse and validate an input file; every problem becomes one line of a ``UserError``.

Validation never creates or modifies a file.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from argyro_run.config.root import Config, apply_defaults, cross_field_problems
from argyro_run.errors import UserError

MAX_BYTES = 10 * 1024 * 1024


def load_config(path: str | Path, check_files: bool = True, output_dir: str | Path | None = None,
                overrides: list[str] | None = None) -> Config:
    """Load and validate ``path``; raise ``UserError`` (with ``problems``) if anything is wrong.

    ``check_files``: also require the input files it names (structure files, .mtp, training
    set) to exist, relative to the input file's directory.
    ``output_dir``: the folder relative ``run.archive`` and ``run.workdir`` start at (the command
    line's ``--outdir``; default: the input file's folder). It need not exist; it must not be a file.
    ``overrides``: ``KEY=VALUE`` strings (``--set``, see ``argyro_run.config.overrides``) applied
    before validation.
    """
    p = Path(path)
    text = read_text(p)
    if overrides:
        from argyro_run.config.overrides import apply_overrides

        cfg = config_from_dict(apply_overrides(parse_toml(text, str(p)), overrides), source=f"{p} (with --set)",
                               text=text, base_dir=p.resolve().parent)
    else:
        cfg = config_from_text(text, source=str(p), base_dir=p.resolve().parent)
    if output_dir is not None:
        out = Path(output_dir).expanduser()
        if out.exists() and not out.is_dir():
            raise UserError(f"--outdir: {str(out)!r} exists and is not a directory; allowed: a folder (created if missing)")
        cfg._output_dir = out.resolve()
    if check_files:
        lines = key_lines(text)
        problems = []
        for key, name in named_files(cfg):
            if not cfg.resolve(name).is_file():
                where = _line_of(key, lines)
                at = f" (line {where})" if where else ""
                problems.append(f"{key}{at}: file {name!r} not found (relative paths start at {cfg.base_dir})")
        if problems:
            raise UserError(f"{p}: {len(problems)} problem(s) in the input", problems)
    return cfg


def named_files(cfg: Config) -> list[tuple[str, str]]:
    """(key path, file name) of every existing input file the configuration refers to."""
    out = []
    for i, m in enumerate(cfg.materials):
        if m.structure_file:
            out.append((f"materials[{i}].structure_file", m.structure_file))
    if cfg.potential.file and (cfg.md is not None or not cfg.active_learning.enabled):
        out.append(("potential.file", cfg.potential.file))
    if cfg.potential.training_set and cfg.active_learning.enabled:
        out.append(("potential.training_set", cfg.potential.training_set))
    return out


def read_text(p: Path) -> str:
    try:
        if not p.exists():
            raise UserError(f"input file {str(p)!r} does not exist")
        if p.is_dir():
            raise UserError(f"{str(p)!r} is a directory, not an input file")
        data = p.read_bytes()[: MAX_BYTES + 1]
    except UserError:
        raise
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {str(p)!r}: {exc}") from None
    if len(data) > MAX_BYTES:
        raise UserError(f"{str(p)!r} is larger than {MAX_BYTES // 2**20} MiB; not an input file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(f"{str(p)!r} is not UTF-8 text (byte {exc.start}, line {line}); TOML files must be UTF-8") from None


def parse_toml(text: str, source: str = "<input>") -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{source} is not valid TOML", [f"{exc}"]) from None
    except RecursionError:
        raise UserError(f"{source} is nested too deeply to be an input file") from None


def config_from_text(text: str, source: str = "<input>", base_dir: Path | None = None) -> Config:
    return config_from_dict(parse_toml(text, source), source=source, text=text, base_dir=base_dir)


def config_from_dict(data: Any, source: str = "<input>", text: str | None = None,
                     base_dir: Path | None = None) -> Config:
    """Validate a parsed document (dict) into a ``Config``, collecting every problem; relative
    file names (structure files, read by the checks) start at ``base_dir`` (default: the
    current directory)."""
    lines = key_lines(text) if text else {}
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        problems = [_format(err, lines).replace("\n", "\\n") for err in exc.errors(include_url=False)]
        raise UserError(f"{source}: {len(problems)} problem(s) in the input", problems) from None
    except (RecursionError, OverflowError, ValueError, TypeError) as exc:
        raise UserError(f"{source}: the input cannot be validated ({type(exc).__name__}: {exc})") from None
    if base_dir is not None:
        cfg._base_dir = Path(base_dir)
    problems = cross_field_problems(cfg)
    if problems:
        raise UserError(f"{source}: {len(problems)} problem(s) in the input", problems)
    return apply_defaults(cfg)


# ---------------------------------------------------------------------------------------------
def key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = str(part)
            if not _BARE.fullmatch(part):
                part = json.dumps(part)
            out += ("." if out else "") + part
    return out or "(top level)"


_BARE = re.compile(r"[A-Za-z0-9_-]+")
def _clean_loc(loc: tuple) -> tuple:
    """Drop pydantic's validator tags (``function-after[...]``) from an error location."""
    return tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that holds the key at ``loc`` (its last part)."""
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        model = _inner_model(model.model_fields[part].annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(ann: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    origin = typing.get_origin(ann)
    if origin in (list, typing.Union, types.UnionType):
        for a in typing.get_args(ann):
            m = _inner_model(a)
            if m is not None:
                return m
    return None


def _format(err: dict, lines: dict[str, int]) -> str:
    loc = _clean_loc(tuple(err.get("loc", ())))
    path = key_path(loc)
    where = _line_of(path, lines)
    at = f" (line {where})" if where else ""
    if err.get("type") == "extra_forbidden":
        model = _model_at(loc)
        allowed = sorted(model.model_fields) if model else []
        key = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{path}{at}: unknown key; {hint}allowed: {', '.join(allowed)}"
    found = err.get("input")
    shown = repr(found)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if err.get("type") == "missing":
        return f"{path}{at}: required key is missing"
    return f"{path}{at}: {msg} (found {shown})"


def _line_of(path: str, lines: dict[str, int]) -> int | None:
    p = path
    while p:
        if p in lines:
            return lines[p]
        cut = max(p.rfind("."), p.rfind("["))
        if cut <= 0:
            break
        p = p[:cut]
    return None


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\s\"']+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def key_lines(text: str) -> dict[str, int]:
    """Map key paths like ``materials[0].grain_boundaries[1]`` to 1-based TOML line numbers."""
    out: dict[str, int] = {}
    counters: dict[str, int] = {}
    prefix = ""
    depth = 0  # bracket depth of multi-line arrays/inline tables
    for i, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0] if '"' not in raw and "'" not in raw else raw
        if depth == 0:
            m = _HEADER.match(line)
            if m:
                parts = [s.strip().strip("\"'") for s in m.group(2).split(".")]
                base = _indexed(parts[:-1], counters)
                name = (base + "." if base else "") + parts[-1]
                if m.group(1) == "[[":
                    idx = counters.get(name, -1) + 1
                    counters[name] = idx
                    # sub-arrays restart when their parent element changes
                    for k in [k for k in counters if k.startswith(name + "[") or k.startswith(name + ".")]:
                        del counters[k]
                    counters[name] = idx
                    name = f"{name}[{idx}]"
                prefix = name
                out.setdefault(prefix, i)
                continue
            k = _KEY.match(line)
            if k:
                key = k.group(1).strip("\"'")
                out.setdefault((prefix + "." if prefix else "") + key, i)
        depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
        depth = max(depth, 0)
    return out


def _indexed(parts: list[str], counters: dict[str, int]) -> str:
    name = ""
    for part in parts:
        name = (name + "." if name else "") + part
        if name in counters:
            name = f"{name}[{counters[name]}]"
    return name
