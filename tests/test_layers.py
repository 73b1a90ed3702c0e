"""The package layering (issue 17): potentials below md below learning, and config below every
stage except the three edges its validation needs (``docs/architecture.md``, "Layers").

The import graph is built with ``ast`` from the sources (every ``import`` statement, also those
inside functions), so an import cycle is found even when it only closes at run time."""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

import argyro_run

ROOT = pathlib.Path(argyro_run.__file__).parent
STAGES = ("potentials", "md", "learning")
EVERY_STAGE = ("structures", "potentials", "learning", "md", "analysis", "microstructure", "fe", "plan", "runtime",
               "report", "archive", "cli")
# What the config models validate with a stage's own code (docs/architecture.md, "Layers"): the ion
# table, CSL rotations and structure-file summaries (structures), the MTP level table (potentials),
# the [fe] case resolution (fe). Every other stage is above config.
CONFIG_USES = {"structures", "potentials", "fe"}


def _modules(package: str) -> list[str]:
    return sorted(f"argyro_run.{package}." + ".".join(p.relative_to(ROOT / package).with_suffix("").parts)
                  for p in (ROOT / package).rglob("*.py"))


def _imports(path: pathlib.Path) -> set[str]:
    """Dotted names of the argyro_run modules (or names in them) that ``path`` imports."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in out if n.startswith("argyro_run.")}


def _graphs() -> tuple[dict, dict]:
    """(package -> packages it imports, module -> modules of its own package it imports)."""
    packages: dict[str, set] = {}
    modules: dict[str, set] = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        package, name = parts[0], "argyro_run." + ".".join(parts)
        for target in _imports(path):
            tparts = target.split(".")
            if tparts[1] != package:
                packages.setdefault(package, set()).add(tparts[1])
            elif len(tparts) > 2 and (ROOT / package / f"{tparts[2]}.py").is_file() and tparts[2] != parts[-1]:
                modules.setdefault(name, set()).add(".".join(tparts[:3]))
    return packages, modules


def _cycle(graph: dict, nodes) -> list | None:
    """A cycle of ``graph`` through the given nodes (depth-first search), or None."""
    def visit(node, path):
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                return path[path.index(nxt):] + [nxt]
            found = visit(nxt, path + [nxt]) if nxt in nodes else None
            if found:
                return found
        return None

    for start in sorted(nodes):
        found = visit(start, [start])
        if found:
            return found
    return None


@pytest.mark.parametrize("module", [m for p in STAGES for m in _modules(p)])
def test_every_stage_module_imports_on_its_own(module):
    importlib.import_module(module)


def test_potentials_never_imports_learning_or_md():
    packages, _ = _graphs()
    assert not packages.get("potentials", set()) & {"learning", "md"}, packages["potentials"]


def test_md_never_imports_learning():
    packages, _ = _graphs()
    assert "learning" not in packages.get("md", set()), packages["md"]


def test_config_imports_no_stage_but_its_validation_edges():
    packages, _ = _graphs()
    stages = packages.get("config", set()) & set(EVERY_STAGE)
    assert stages <= CONFIG_USES, f"config imports {sorted(stages - CONFIG_USES)}"
    assert "learning" not in stages  # the calculator and model tables are owned by config/reference.py


def test_no_package_cycle_through_potentials_or_md():
    packages, _ = _graphs()
    every = set(packages) | {t for ts in packages.values() for t in ts}
    for stage in ("potentials", "md"):
        reach, todo = set(), list(packages.get(stage, ()))
        while todo:
            p = todo.pop()
            if p not in reach:
                reach.add(p)
                todo.extend(packages.get(p, ()))
        assert stage not in reach, f"{stage} imports a package that imports {stage} back"
    assert _cycle(packages, set(STAGES)) is None
    assert every  # the graph was built


def test_no_module_cycle_inside_the_stages():
    _, modules = _graphs()
    for stage in STAGES:
        names = set(_modules(stage))
        assert _cycle(modules, names) is None, f"import cycle between modules of {stage}"


def test_the_check_finds_a_reintroduced_cycle():
    packages, modules = _graphs()
    bad = {k: set(v) for k, v in packages.items()}
    bad.setdefault("potentials", set()).add("learning")
    assert _cycle(bad, set(STAGES)) is not None
    assert _cycle({"a.x": {"a.y"}, "a.y": {"a.x"}}, {"a.x", "a.y"}) == ["a.x", "a.y", "a.x"]
