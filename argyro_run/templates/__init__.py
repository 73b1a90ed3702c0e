"""Input templates shipped with the package (``argyro-run init``); ``inputs/`` holds copies.

A template may name files next to it (``materials.structure_file``, ``potential.file``,
``potential.training_set``, relative paths); those shipped here too are its *companions*, which
``argyro-run init`` writes next to the new input so that it validates and runs as written.
"""

from __future__ import annotations

import tomllib
from importlib import resources


def template_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".toml"))


def template_text(name: str) -> str:
    from argyro_run.errors import UserError

    if name not in template_names():
        raise UserError(f"unknown template {name!r}; available: {', '.join(template_names())}")
    return resources.files(__name__).joinpath(f"{name}.toml").read_text(encoding="utf-8")


def referenced_files(text: str) -> list[str]:
    """Relative file names an input refers to (structure files, potential, training set)."""
    doc = tomllib.loads(text)
    names = [m.get("structure_file") for m in doc.get("materials", [])]
    pot = doc.get("potential", {})
    names += [pot.get("file"), pot.get("training_set")]
    out: list[str] = []
    for n in names:
        if isinstance(n, str) and n and not n.startswith(("/", "~")) and n not in out:
            out.append(n)
    return out


def template_companions(name: str) -> dict[str, bytes]:
    """``{relative name: content}`` of the files template ``name`` refers to that ship with it."""
    root = resources.files(__name__)
    out = {}
    for rel in referenced_files(template_text(name)):
        f = root.joinpath(rel)
        if f.is_file():
            out[rel] = f.read_bytes()
    return out
