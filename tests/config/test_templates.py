"""Templates as a user gets them: every one validates as shipped (files it names included),
``inputs/`` is a byte-identical copy of ``argyro_run/templates/``, and ``argyro-run init`` gives a
file that validates in a new, empty directory (with the companion files it refers to)."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import numpy as np
import pytest

from argyro_run.cli import main
from argyro_run.config import load_config
from argyro_run.plan import build_plan
from argyro_run.templates import referenced_files, template_companions, template_names, template_text
from tests._support.env import CLI

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "argyro_run" / "templates"
INPUTS = REPO / "inputs"
SHIPPED = ["quickstart", "Li6PS5Cl", "Li6PS5Br", "Li6PS5I", "new-material", "Na3PS4"]


def _files(d: Path) -> list[str]:
    """Shipped files of ``d``: not Python, and not results a user may have made there by running an
    input in place (archives ``*.h5``, their ``*.h5.bak-<time>`` copies, work folders)."""
    return sorted(p.name for p in d.iterdir()
                  if p.is_file() and p.suffix != ".py" and p.suffix != ".h5" and ".h5.bak-" not in p.name)


def test_results_beside_inputs_do_not_count_as_templates(tmp_path):
    (tmp_path / "quickstart.toml").write_text("x")
    for name in ("quickstart.h5", "quickstart.h5.bak-20260101T000000Z"):
        (tmp_path / name).write_bytes(b"\x89HDF")
    (tmp_path / "quickstart-work").mkdir()
    assert _files(tmp_path) == ["quickstart.toml"]


def test_inputs_equal_templates():
    assert _files(INPUTS) == _files(TEMPLATES)
    assert set(SHIPPED) <= set(template_names())
    for name in _files(TEMPLATES):
        assert filecmp.cmp(TEMPLATES / name, INPUTS / name, shallow=False), name


@pytest.mark.parametrize("name", SHIPPED)
def test_template_validates_as_shipped(name, capsys):
    for d in (TEMPLATES, INPUTS):
        assert main(["validate", str(d / f"{name}.toml")]) == 0, capsys.readouterr().err
        cfg = load_config(d / f"{name}.toml")   # files the input names are checked too
        assert len(build_plan(cfg)) > 0
    for rel in referenced_files(template_text(name)):  # every file it names ships next to it
        assert (TEMPLATES / rel).is_file() and rel in template_companions(name), rel


@pytest.mark.parametrize("name", SHIPPED)
def test_init_output_validates_in_a_new_directory(name, tmp_path):
    """``argyro-run init NAME -o DIR/x.toml`` run from another cwd; ``validate`` from a third."""
    (tmp_path / "new").mkdir(), (tmp_path / "cwd").mkdir()
    exe = CLI
    p = subprocess.run([exe, "init", name, "-o", str(tmp_path / "new" / "x.toml")], capture_output=True, text=True,
                       timeout=60, cwd=str(tmp_path / "cwd"))
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in (tmp_path / "new").iterdir()) == sorted(["x.toml", *template_companions(name)])
    assert not list((tmp_path / "cwd").iterdir())
    p = subprocess.run([exe, "validate", "new/x.toml"], capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    for rel, data in template_companions(name).items():
        assert (tmp_path / "new" / rel).read_bytes() == data


def test_new_material_builds_from_its_example_file(tmp_path, capsys):
    """The example structure of ``new-material`` is the builder's ordered Li6PS5Cl cell, and the
    planned structures task reads it from the input's folder."""
    from argyro_run.results import get_atoms
    from argyro_run.structures import argyrodite
    from argyro_run.structures.tasks import run_build_structures

    assert main(["init", "new-material", "-o", str(tmp_path / "m.toml")]) == 0
    cfg = load_config(tmp_path / "m.toml")
    (m,) = cfg.materials
    assert m.structure_file in template_companions("new-material")
    task = build_plan(cfg)[f"structures/{m.name}"]
    assert task.params["structure_file_sha256"] is not None
    res = run_build_structures({**task.params, "input_dir": str(tmp_path)}, {}, None, tmp_path / "w")
    got, ref = get_atoms(res, "ordered"), argyrodite("Cl")
    assert got.get_chemical_symbols() == ref.get_chemical_symbols()
    np.testing.assert_allclose(got.cell[:], ref.cell[:], atol=1e-6)
    d = got.get_scaled_positions() - ref.get_scaled_positions()
    assert np.abs(d - np.round(d)).max() < 1e-5


def test_init_keeps_an_existing_companion(tmp_path, capsys):
    (tmp_path / "example_Li6PS5Cl.cif").write_text("mine")
    assert main(["init", "new-material", "-o", str(tmp_path / "a.toml")]) == 0
    assert (tmp_path / "example_Li6PS5Cl.cif").read_text() == "mine"
    assert "kept the existing" in capsys.readouterr().out


@pytest.mark.parametrize("name", SHIPPED)
def test_analysis_window_fits_the_md_of_each_template(name):
    """The diffusion analysis accepts each template's MD output: a random walk sampled on the
    template's time grid (production_ps, dump_interval_fs) goes through the real analysis task with
    the template's [analysis] settings (defaults filled in as the task does) and gives D > 0."""
    from argyro_run.analysis.tasks import run_diffusion
    from argyro_run.results import Result
    from argyro_run.structures import argyrodite

    cfg = load_config(TEMPLATES / f"{name}.toml")
    if cfg.md is None:
        pytest.skip("no [md]")
    plan = build_plan(cfg)
    task = next(t for t in plan.tasks if t.kind == "diffusion")
    md_id = task.deps[0]
    dt_ps = cfg.md.dump_interval_fs / 1000.0
    t = np.arange(0.0, min(cfg.md.production_lengths_ps()) + 0.5 * dt_ps, dt_ps)
    from argyro_run.structures.tasks import unit_cell

    cell = unit_cell(cfg.materials[0], base_dir=cfg.base_dir) if cfg.materials else argyrodite("Cl")
    sym = np.array(cell.get_chemical_symbols())
    mobile = task.params["analysis"]["species"]
    # 3 mobile ions and 2 other atoms: the analysis cost grows with the atoms
    atoms = cell[list(np.flatnonzero(sym == mobile)[:3]) + list(np.flatnonzero(sym != mobile)[:2])]
    rng = np.random.default_rng(1)
    x = atoms.positions + np.cumsum(rng.normal(scale=0.05, size=(len(t), len(atoms), 3)), axis=0)
    md = Result()
    md.add("time_ps", t, "ps")
    md.add("trajectory/positions_A", x, "Angstrom")
    md.add("trajectory/numbers", atoms.numbers, "")
    md.add("trajectory/cell_A", np.asarray(atoms.cell[:]), "Angstrom")
    md.set_attrs("", temperature_K=600.0)
    res = run_diffusion(task.params, {md_id: md}, None, None)
    assert res.get("D_m2_per_s")[0] > 0


@pytest.mark.parametrize("name", ["Li6PS5Cl", "Li6PS5Br", "Li6PS5I"])
def test_production_templates_cells_exceed_twice_the_cutoff(name, tmp_path):
    """Production-scale structures: every cell (bulk supercells and GB bicrystals) is at least
    twice the MTP cutoff wide in every direction (no atom sees its own image) and has >= 300 atoms."""
    from argyro_run.structures.tasks import build_material

    cfg = load_config(TEMPLATES / f"{name}.toml")
    for m in cfg.materials:
        for s, atoms in build_material(m, seed=1, base_dir=cfg.base_dir).items():
            cell = np.asarray(atoms.cell[:])
            widths = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
            assert widths.min() >= 2 * cfg.potential.max_dist_A, (s, widths)
            assert len(atoms) >= 300, s
