"""The per-section key reference of ``docs/input.md``, generated from the pydantic models.

``python -m argyro_run.report.input_doc docs/input.md`` rewrites the part of the file between
``<!-- keys:begin -->`` and ``<!-- keys:end -->``; without a file it prints the tables.
"""

from __future__ import annotations

import inspect
import json
import sys
import typing
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from argyro_run.config.base import Section

BEGIN, END = "<!-- keys:begin -->", "<!-- keys:end -->"

# key suffix -> unit (longest suffixes first)
UNITS = [("_meV_per_atom", "meV/atom"), ("_m2_per_s", "m²/s"), ("_mS_per_cm", "mS/cm"), ("_per_nm3", "1/nm³"),
         ("_meV", "meV"), ("_eV", "eV"),
         ("_GPa", "GPa"), ("_bar", "bar"), ("_fs", "fs"), ("_ps", "ps"), ("_nm", "nm"), ("_A", "Å"), ("_K", "K"),
         ("_deg", "degrees"), ("_s", "s")]


def unit_of(key: str) -> str:
    for suf, u in UNITS:
        if key.endswith(suf):
            return u
    return ""


def _section_model(ann) -> type[Section] | None:
    """The Section model inside an annotation (``M``, ``M | None``, ``list[M]``), else None."""
    if inspect.isclass(ann) and issubclass(ann, Section):
        return ann
    for a in typing.get_args(ann):
        m = _section_model(a)
        if m is not None:
            return m
    return None


def _is_list(ann) -> bool:
    if typing.get_origin(ann) is list:
        return True
    return any(_is_list(a) for a in typing.get_args(ann) if a is not type(None))


def type_name(ann) -> str:
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if ann is type(None):
        return "none"
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " \\| ".join(type_name(a) for a in args)
    if origin is list:
        return f"list[{type_name(args[0])}]" if args else "list"
    if origin is dict:
        return "table"
    if inspect.isclass(ann) and issubclass(ann, Section):
        return "table"
    return getattr(ann, "__name__", str(ann))


def default_text(f: FieldInfo) -> str:
    if f.default is PydanticUndefined and f.default_factory is None:
        return "**required**"
    v = f.default_factory() if f.default_factory is not None else f.default
    if isinstance(v, Section):
        return "(see table)"
    if isinstance(v, list) and v and isinstance(v[0], Section):
        return json.dumps([x.model_dump(exclude_defaults=True) for x in v]) + " (one entry, other keys default)"
    if v is None:
        return "(none)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return f"{v:.1f}"
    return json.dumps(v) if isinstance(v, (str, list, dict)) else str(v)


def constraints(f: FieldInfo) -> str:
    out = []
    names = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    for m in f.metadata:
        for attr, sym in names.items():
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} {v:g}" if isinstance(v, float) else f"{sym} {v}")
        if getattr(m, "min_length", None) is not None:
            out.append(f"length >= {m.min_length}")
        if getattr(m, "max_length", None) is not None:
            out.append(f"length <= {m.max_length}")
        if getattr(m, "pattern", None):
            out.append(f"pattern `{m.pattern}`")
    return ", ".join(out)


def sections() -> list[tuple[str, type[Section], str]]:
    """(TOML header, model, description) of every table of the input, nested ones after their parent."""
    from argyro_run.config.root import Config

    out: list[tuple[str, type[Section], str]] = []
    seen: dict[type, str] = {}

    def walk(path: str, model: type[Section], desc: str, is_list: bool):
        header = f"[[{path}]]" if is_list else f"[{path}]"
        if model in seen and model is not Config:
            out.append((header, model, f"{desc} Same keys as `{seen[model]}`."))
            return
        seen[model] = header
        out.append((header, model, desc))
        for name, f in model.model_fields.items():
            sub = _section_model(f.annotation)
            if sub is not None:
                walk(f"{path}.{name}", sub, f.description or "", _is_list(f.annotation))

    for name, f in Config.model_fields.items():
        sub = _section_model(f.annotation)
        walk(name, sub, f.description or "", _is_list(f.annotation))
    return out


def keys_by_section() -> dict[str, list[str]]:
    return {h: list(m.model_fields) for h, m, _ in sections()}


def _rst_to_md(text: str) -> str:
    return text.replace("``", "`").replace(":mod:", "").replace(":meth:", "").replace(":func:", "")


def tables_markdown() -> str:
    lines = []
    modules_used: set[str] = set()
    for header, model, desc in sections():
        lines += [f"### `{header}`", ""]
        doc = model.__dict__.get("__doc__") or ""
        if not doc and model.__module__ not in modules_used:
            mdoc = inspect.getdoc(sys.modules[model.__module__]) or ""
            if mdoc.startswith("``["):      # a section module: its first paragraph describes the section
                doc = _rst_to_md(mdoc)
        modules_used.add(model.__module__)
        if desc:
            lines += [desc, ""]
        if doc and not doc.startswith(("A validated", "Base class")) and "Same keys as" not in desc:
            first = " ".join(doc.strip().split("\n\n")[0].split())
            if first != desc:
                lines += [first, ""]
        if "Same keys as" in desc:
            continue
        lines += ["| key | type | default | unit | allowed | description |", "|---|---|---|---|---|---|"]
        for name, f in model.model_fields.items():
            sub = _section_model(f.annotation)
            typ = type_name(f.annotation)
            if sub is not None:
                typ = "array of tables" if _is_list(f.annotation) else "table"
            descr = (f.description or "").replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{name}` | {typ} | {default_text(f)} | {unit_of(name)} | {constraints(f)} | {descr} |")
        lines.append("")
    return "\n".join(lines)


def rewrite(path: Path) -> None:
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path}: no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + BEGIN + "\n\n" + tables_markdown() + "\n" + END + tail)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        rewrite(Path(sys.argv[1]))
    else:
        print(tables_markdown())
