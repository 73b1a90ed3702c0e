"""``benchmarks/md_vs_reference.py``: the MTP's MD against its reference's in the 52-atom cell.

Asserted: the ideal cell's Li lie on the shells of their cages and on their sites (offset 0, all on
a site); the same calculator on both sides gives the same trajectory to the last bit (same start,
velocities and random forces), another seed another one; the recorded grades are the MTP's own;
and the command runs the real MTP against the real reference (tblite), keeps its trajectories and
reuses them, and refuses other settings in the same folder (exit 2, nothing overwritten).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from argyro_run._stack import MPI  # noqa: F401  (import order)
from tests._support.inputs import TEST_MTP

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import md_vs_reference as bench  # noqa: E402

ALS = TEST_MTP.with_suffix(".als")


def _mtp(active_set=None):
    from argyro_run.potentials.calculator import MTPCalculator

    return MTPCalculator(str(TEST_MTP), active_set=active_set)


def test_the_ideal_cell_is_on_its_sites():
    from argyro_run.structures import argyrodite

    for halide in ("Cl", "Br", "I"):
        cell = argyrodite(halide)
        li = cell.positions[np.array(cell.get_chemical_symbols()) == "Li"]
        m = bench.lattice_metrics(li[None], cell.cell[:], halide)
        assert m["cage_shell_offset_A"][0] == pytest.approx(0.0, abs=1e-9)
        assert m["fraction_on_site"][0] == 1.0
        # every Li moved 1 A radially out of its cage: the offset is 1 A
        from argyro_run.analysis.jumps import argyrodite_sites

        lat = argyrodite_sites(cell.cell[:], (1, 1, 1), halide)
        d = li[:, None, :] - lat["cage_centres_A"][None]
        frac = d @ np.linalg.inv(cell.cell[:])
        d = (frac - np.round(frac)) @ cell.cell[:]
        r = np.linalg.norm(d, axis=-1)
        k = np.argmin(r, axis=1)
        out = li + d[np.arange(len(li)), k] / r[np.arange(len(li)), k, None] * 1.0
        assert bench.lattice_metrics(out[None], cell.cell[:], halide)["cage_shell_offset_A"][0] == pytest.approx(1.0)


def test_same_forces_same_trajectory():
    from argyro_run.structures import argyrodite

    cell = argyrodite("Cl")
    kw = dict(temperature_K=600.0, steps=12, timestep_fs=1.0, every=4)
    a = bench.langevin_li(cell, _mtp(ALS), seed=3, **kw)
    b = bench.langevin_li(cell, _mtp(), seed=3, **kw)
    c = bench.langevin_li(cell, _mtp(), seed=4, **kw)
    assert a["li_positions_A"].shape == (4, 24, 3)
    np.testing.assert_array_equal(a["li_positions_A"], b["li_positions_A"])
    assert np.abs(c["li_positions_A"][-1] - a["li_positions_A"][-1]).max() > 1e-4
    np.testing.assert_array_equal(a["li_positions_A"][0], c["li_positions_A"][0])     # the same start
    # the grades are the MTP's own on the recorded frames; without an active set there are none
    assert np.all(np.isnan(b["max_grade"])) and np.all(a["max_grade"] >= 1.0 - 1e-9)
    frame = cell.copy()
    frame.calc = _mtp(ALS)
    frame.get_potential_energy()
    assert a["max_grade"][0] == pytest.approx(frame.calc.results["max_grade"], rel=1e-12)


def test_the_command_against_tblite(tmp_path, capsys):
    args = [str(TEST_MTP), str(tmp_path), "--als", str(ALS), "--reference", "tblite", "--steps", "2",
            "--every", "1", "--seeds", "1"]
    assert bench.main(args) == 0
    res = json.loads((tmp_path / "md_vs_reference.json").read_text())
    for kind in ("mtp", "reference"):
        s = res[kind]["1"]
        assert s["frames"] == 3 and s["time_ps"] == pytest.approx(0.002)
        assert s["cage_shell_offset_first_frame_A"] == pytest.approx(0.0, abs=1e-9)
        assert 0.0 <= s["cage_shell_offset_A"] < 0.3 and 0.5 < s["fraction_on_site"] <= 1.0
        assert (tmp_path / f"{kind}_seed1.npz").exists()
    assert res["mtp"]["1"]["max_grade"] >= 1.0 - 1e-9 and res["reference"]["1"]["max_grade"] is None
    # both start alike, then their own forces move them apart
    x = {k: np.load(tmp_path / f"{k}_seed1.npz")["li_positions_A"] for k in ("mtp", "reference")}
    np.testing.assert_array_equal(x["mtp"][0], x["reference"][0])
    assert np.abs(x["mtp"][-1] - x["reference"][-1]).max() > 1e-6
    # a second call reuses the trajectories (the wall time recorded is the first's)
    stamp = (tmp_path / "reference_seed1.npz").stat().st_mtime_ns
    assert bench.main(args) == 0
    assert (tmp_path / "reference_seed1.npz").stat().st_mtime_ns == stamp
    assert json.loads((tmp_path / "md_vs_reference.json").read_text()) == res
    # other settings in the same folder: refused, nothing touched
    before = (tmp_path / "md_vs_reference.json").read_text()
    assert bench.main(args[:6] + ["--steps", "4"] + args[8:]) == 2
    assert "other settings" in capsys.readouterr().err
    assert (tmp_path / "md_vs_reference.json").read_text() == before
