"""Tests of the LAMMPS ``pair_style mtp`` plugin (real LAMMPS, MLIP reference fixtures).

Asserted: energies/forces/virials equal MLIP's (``out.cfg``) to their printed precision for
every fixture level; forces are minus the finite-difference energy gradient; 1 and 2 MPI ranks
give the same energy and forces; NVE conserves energy; per-atom MaxVol grades equal
max_j |(x A^-1)_j| of the site-basis rows (exactly 1 for the active-set atoms), ``select``
writes MLIP .cfg with ``nbh_grades`` and ``break`` stops with "MTP extrapolation break".
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import numpy as np
import pytest

from argyro_run._stack import MPI  # noqa: F401  (import order)
from tests._support.env import run_mpi

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
NKTV2P = 1.6021765e6  # LAMMPS metal units: bar * A^3 -> eV
LEVELS = ("02", "04", "06", "08", "10")


def read_out_cfg(path):
    """Minimal MLIP .cfg reader (the reference file; independent of argyro_run.potentials.cfg)."""
    cfgs, lines, i = [], pathlib.Path(path).read_text().splitlines(), 0
    while i < len(lines):
        if lines[i].strip() != "BEGIN_CFG":
            i += 1
            continue
        c, i = {"cell": None}, i + 1
        while lines[i].strip() != "END_CFG":
            s = lines[i].strip()
            if s == "Size":
                c["n"], i = int(lines[i + 1]), i + 2
            elif s == "Supercell":
                c["cell"] = np.array([[float(v) for v in lines[i + k].split()] for k in (1, 2, 3)])
                i += 4
            elif s.startswith("AtomData"):
                cols = s.split()[1:]
                a = np.array([[float(v) for v in lines[i + 1 + k].split()] for k in range(c["n"])])
                c["type"] = a[:, cols.index("type")].astype(int)
                c["pos"] = a[:, 2:5]
                if "fx" in cols:
                    c["f"] = a[:, cols.index("fx"):cols.index("fx") + 3]
                if "nbh_grades" in cols:
                    c["grades"] = a[:, cols.index("nbh_grades")]
                i += 1 + c["n"]
            elif s == "Energy":
                c["e"], i = float(lines[i + 1]), i + 2
            elif s.startswith("PlusStress"):
                c["ps"], i = np.array([float(v) for v in lines[i + 1].split()]), i + 2
            elif s.startswith("Feature"):
                c.setdefault("features", {})[s.split()[1]] = s.split()[2]
                i += 1
            else:
                i += 1
        cfgs.append(c)
        i += 1
    return cfgs


def species_count(pot):
    for line in pathlib.Path(pot).read_text().splitlines():
        if line.startswith("species_count"):
            return int(line.split("=")[1])
    raise ValueError(pot)


def to_lammps_frame(cell, pos):
    """Rotate a right-handed cell to LAMMPS's a||x, b in xy orientation; returns (cell, pos, R)."""
    from ase.geometry import cell_to_cellpar, cellpar_to_cell

    new = cellpar_to_cell(cell_to_cellpar(cell))
    R = np.linalg.solve(cell, new)
    assert np.allclose(R @ R.T, np.eye(3), atol=1e-10)
    return new, pos @ R, R


class Lmp:
    """A LAMMPS instance with pair_style mtp for one configuration (MTP types 0..S-1)."""

    def __init__(self, pot, types, pos, cell=None, *, S=None, style_extra="", comm=None,
                 masses=None):
        from argyro_run._stack import lammps_module
        from argyro_run.potentials.plugin import lammps_commands

        S = S or species_count(pot)
        kw = {"comm": comm} if comm is not None else {}
        self.lmp = lmp = lammps_module().lammps(cmdargs=["-log", "none", "-screen", "none"], **kw)
        self.n = len(pos)
        lmp.command("units metal")
        lmp.command("atom_style atomic")
        lmp.command("atom_modify map array")
        if cell is not None:
            self.cell, pos, self.R = to_lammps_frame(np.asarray(cell, float), np.asarray(pos, float))
            c = self.cell
            lmp.command("boundary p p p")
            lmp.command(f"region b prism 0 {c[0,0]:.17g} 0 {c[1,1]:.17g} 0 {c[2,2]:.17g} "
                        f"{c[1,0]:.17g} {c[2,0]:.17g} {c[2,1]:.17g} units box")
        else:
            self.R = np.eye(3)
            lmp.command("boundary f f f")
            lmp.command("region b block -40 40 -40 40 -40 40 units box")
        lmp.command(f"create_box {S} b")
        for t in range(S):
            lmp.command(f"mass {t + 1} {1.0 if masses is None else masses[t]}")
        for p, t in zip(pos, types):
            lmp.command(f"create_atoms {int(t) + 1} single {p[0]:.17g} {p[1]:.17g} {p[2]:.17g} "
                        "units box remap yes")
        cmds = lammps_commands(pot, list(range(S)))
        cmds[1] += style_extra
        for c in cmds:
            lmp.command(c)
        lmp.command("compute peat all pe/atom")
        lmp.command("compute vir all pressure NULL virial")
        lmp.command("thermo_style custom step pe ke etotal c_vir[1] c_vir[2] c_vir[3] c_vir[6] "
                    "c_vir[5] c_vir[4] vol")
        lmp.command("thermo_modify norm no")

    def run0(self):
        self.lmp.command("run 0")

    def energy(self):
        return self.lmp.get_thermo("pe")

    def virial(self):
        """Virial sum r_i f_i in eV, Voigt xx yy zz yz xz xy, in the caller's frame."""
        vec = self.lmp.numpy.extract_compute("vir", 0, 1)  # xx yy zz xy xz yz (bar)
        v = np.array([vec[k] for k in (0, 1, 2, 5, 4, 3)])
        v *= self.lmp.get_thermo("vol") / NKTV2P
        m = np.array([[v[0], v[5], v[4]], [v[5], v[1], v[3]], [v[4], v[3], v[2]]])
        m = self.R @ m @ self.R.T
        return m[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]

    def _by_id(self, name):
        ids = self.lmp.numpy.extract_atom("id")[: self.n]
        a = np.array(self.lmp.numpy.extract_atom(name)[: self.n])
        return a[np.argsort(ids)]

    def forces(self):
        return self._by_id("f") @ self.R.T

    def positions(self):
        return self._by_id("x") @ self.R.T

    def peratom_energy(self):
        ids = self.lmp.numpy.extract_atom("id")[: self.n]
        e = np.array(self.lmp.numpy.extract_compute("peat", 1, 1)[: self.n])
        return e[np.argsort(ids)]

    def grades(self):
        return self._by_id("d_mtp_grade")

    def close(self):
        self.lmp.close()


def fixture_cases(fixtures):
    cases = []
    for group, nconf in (("crystals/noncubic", 8), ("molecules/291", None), ("molecules/762", None)):
        for level in LEVELS:
            d = fixtures / group / level
            if not (d / "pot.mtp").is_file():  # e.g. molecules/291/04 ships only initial.mtp
                continue
            cfgs = read_out_cfg(d / "out.cfg")
            if nconf is not None:  # spread over the file
                cfgs = [cfgs[k] for k in np.linspace(0, len(cfgs) - 1, nconf).astype(int)]
            cases.append((d, cfgs))
    return cases


def test_matches_mlip_reference(mlip_fixtures):
    """Energy (12 printed decimals), forces (6), PlusStress virial (5) for every fixture."""
    n = 0
    for d, cfgs in fixture_cases(mlip_fixtures):
        for c in cfgs:
            lmp = Lmp(d / "pot.mtp", c["type"], c["pos"], c["cell"])
            lmp.run0()
            e, f, v = lmp.energy(), lmp.forces(), lmp.virial()
            lmp.close()
            assert abs(e - c["e"]) <= 1e-12 * max(1.0, abs(c["e"])) + 1e-11, (d, e, c["e"])
            np.testing.assert_allclose(f, c["f"], atol=1.5e-6, rtol=0, err_msg=str(d))
            np.testing.assert_allclose(v, c["ps"], atol=2e-5, rtol=0, err_msg=str(d))
            n += 1
    assert n >= 5 * 8 + 9 * 21


def _fixture_crystal(fixtures, level="10", k=19):  # 19: MLIP's configuration 500 (tests/data/mlip/README.md)
    d = fixtures / "crystals/noncubic" / level
    return d, read_out_cfg(d / "out.cfg")[k]


def test_forces_are_minus_energy_gradient(mlip_fixtures):
    d, c = _fixture_crystal(mlip_fixtures)
    lmp = Lmp(d / "pot.mtp", c["type"], c["pos"], c["cell"])
    lmp.run0()
    f = lmp.forces()
    lmp.close()
    h = 1e-5
    rng = np.random.default_rng(0)
    for atom in rng.choice(len(c["pos"]), 4, replace=False):
        for ax in range(3):
            e = []
            for s in (+1, -1):
                p = c["pos"].copy()
                p[atom, ax] += s * h
                lp = Lmp(d / "pot.mtp", c["type"], p, c["cell"])
                lp.run0()
                e.append(lp.energy())
                lp.close()
            fd = -(e[0] - e[1]) / (2 * h)
            assert abs(fd - f[atom, ax]) < 1e-7 * max(1.0, abs(f[atom, ax])), (atom, ax, fd, f[atom, ax])


def test_per_atom_energy_and_virial_sum_to_totals(mlip_fixtures):
    d, c = _fixture_crystal(mlip_fixtures)
    lmp = Lmp(d / "pot.mtp", c["type"], c["pos"], c["cell"])
    lmp.lmp.command("compute sat all stress/atom NULL virial")
    lmp.lmp.command("compute sv all reduce sum c_sat[1] c_sat[2] c_sat[3] c_sat[4] c_sat[5] c_sat[6]")
    lmp.lmp.command("thermo_style custom pe c_sv[1] c_vir[1] vol")
    lmp.run0()
    assert np.isclose(lmp.peratom_energy().sum(), lmp.energy(), rtol=1e-13, atol=1e-12)
    vol = lmp.lmp.get_thermo("vol")
    sv = np.array(lmp.lmp.numpy.extract_compute("sv", 0, 1))
    vir = np.array(lmp.lmp.numpy.extract_compute("vir", 0, 1))
    assert abs(vir).max() > 1.0
    # stress/atom sums to -virial (bar*A^3); the pressure compute gives virial/V (bar)
    np.testing.assert_allclose(-sv / vol, vir, rtol=1e-10, atol=1e-6)
    lmp.close()


def test_translation_and_rotation_invariance(mlip_fixtures):
    d = mlip_fixtures / "molecules/291/10"
    c = read_out_cfg(d / "out.cfg")[7]
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    ref = Lmp(d / "pot.mtp", c["type"], c["pos"])
    ref.run0()
    moved = Lmp(d / "pot.mtp", c["type"], c["pos"] @ R.T + np.array([1.3, -0.7, 2.2]))
    moved.run0()
    assert np.isclose(ref.energy(), moved.energy(), rtol=1e-13)
    np.testing.assert_allclose(ref.forces() @ R.T, moved.forces(), atol=1e-10)
    assert abs(ref.forces().sum(axis=0)).max() < 1e-10  # Newton's third law
    ref.close()
    moved.close()


def test_one_vs_two_ranks(mlip_fixtures, tmp_path):
    d = mlip_fixtures / "crystals/noncubic/10"
    out = {}
    for n in (1, 2):
        p = run_mpi(n, ["-m", "tests.potentials._mpi_plugin_forces", str(d)], timeout=300, cwd=ROOT)
        assert p.returncode == 0, p.stderr[-3000:]
        line = [x for x in p.stdout.splitlines() if x.startswith("RESULT")][0]
        out[n] = json.loads(line[6:])
        assert out[n]["nprocs"] == n
    assert abs(out[1]["e"] - out[2]["e"]) <= 1e-12 * abs(out[1]["e"])
    np.testing.assert_allclose(out[1]["f"], out[2]["f"], atol=1e-11)
    np.testing.assert_allclose(out[1]["v"], out[2]["v"], rtol=1e-11, atol=1e-9)


def test_nve_energy_conservation(mlip_fixtures):
    """Two-species periodic cell (four CH4 molecules of the 291 fixture in a 14 A box), NVE,
    0.2 fs steps: total energy drift over 500 steps below 2e-4 eV/atom."""
    d = mlip_fixtures / "molecules/291/10"
    c = read_out_cfg(d / "out.cfg")[0]
    p0 = c["pos"] - c["pos"].mean(axis=0)
    L = 14.0
    centres = np.array([[3.5, 3.5, 3.5], [10.5, 10.5, 3.5], [10.5, 3.5, 10.5], [3.5, 10.5, 10.5]])
    pos = np.concatenate([p0 + x for x in centres])
    types = np.tile(c["type"], 4)
    lmp = Lmp(d / "pot.mtp", types, pos, np.eye(3) * L, masses=[12.011, 1.008])
    lmp.lmp.command("velocity all create 300 4928459 mom yes rot no dist gaussian")
    lmp.lmp.command("timestep 0.0002")
    lmp.lmp.command("fix nve all nve")
    lmp.run0()
    e0 = lmp.lmp.get_thermo("etotal")
    es = []
    for _ in range(10):
        lmp.lmp.command("run 50")
        es.append(lmp.lmp.get_thermo("etotal"))
    ke = lmp.lmp.get_thermo("ke")
    lmp.close()
    assert ke > 0.01  # atoms do move
    drift = max(abs(np.array(es) - e0)) / len(pos)
    assert drift < 2e-4, drift


def test_grades_only_on_steps_divisible_by_every(mlip_fixtures, tmp_path):
    """'every 5': the grades are computed at a run's set-up and on steps 5, 10, ...; in between
    d_mtp_grade keeps the last values although the atoms move (select/break are checked in the
    same place, on graded steps only)."""
    d = mlip_fixtures / "molecules/291/10"
    c = read_out_cfg(d / "out.cfg")[0]
    S = species_count(d / "pot.mtp")
    nmom = len(re.search(r"moment_coeffs = \{(.*)\}", (d / "pot.mtp").read_text()).group(1).split(","))
    ainv = np.random.default_rng(3).normal(0, 1, (S + nmom, S + nmom))
    active = tmp_path / "r.als"
    _write_active(active, ainv)
    box = np.eye(3) * 14.0
    pos = c["pos"] - c["pos"].mean(axis=0) + 7.0

    def grades_at(p):  # fresh evaluation (every 1) at positions p
        ref = Lmp(d / "pot.mtp", c["type"], p, box, masses=[12.011, 1.008], style_extra=f" active_set {active}")
        ref.run0()
        g = ref.grades()
        ref.close()
        return g

    lmp = Lmp(d / "pot.mtp", c["type"], pos, box, masses=[12.011, 1.008],
              style_extra=f" active_set {active} every 5")
    lmp.lmp.command("velocity all create 600 8812 mom yes rot no dist gaussian")
    lmp.lmp.command("timestep 0.0005")
    lmp.lmp.command("fix nve all nve")
    lmp.run0()
    g0 = lmp.grades()
    np.testing.assert_allclose(g0, grades_at(lmp.positions()), rtol=1e-12)
    lmp.lmp.command("run 4 post no")  # steps 1-4: not graded (no set-up inside a run)
    assert np.array_equal(lmp.grades(), g0)
    p4 = lmp.positions()
    assert abs(p4 - pos).max() > 1e-4  # the atoms did move
    lmp.lmp.command("run 1 pre no post no")  # step 5: graded, at the positions of step 5
    g5 = lmp.grades()
    np.testing.assert_allclose(g5, grades_at(lmp.positions()), rtol=1e-12)
    assert not np.allclose(g5, g0, rtol=1e-6)
    lmp.close()


def _site_rows(d, c, S, tmp_path):
    """Site-basis rows [one-hot(type), B_m(i)] from per-atom energies of potentials whose
    coefficients are unit vectors (E_i = species_coeffs[t_i] + sum_m moment_coeffs[m] B_m(i))."""
    text = (d / "pot.mtp").read_text()
    nmom = len(re.search(r"moment_coeffs = \{(.*)\}", text).group(1).split(","))
    rows = np.zeros((len(c["pos"]), S + nmom))
    rows[np.arange(len(c["pos"])), c["type"]] = 1.0
    for m in range(nmom):
        unit = ", ".join("1" if k == m else "0" for k in range(nmom))
        t = re.sub(r"moment_coeffs = \{.*\}", "moment_coeffs = {" + unit + "}", text)
        t = re.sub(r"species_coeffs = \{.*\}", "species_coeffs = {" + ", ".join(["0"] * S) + "}", t)
        p = tmp_path / f"unit{m}.mtp"
        p.write_text(t)
        lmp = Lmp(p, c["type"], c["pos"], c["cell"], S=S)
        lmp.run0()
        rows[:, S + m] = lmp.peratom_energy()
        lmp.close()
    return rows


def _write_active(path, ainv):
    n = ainv.shape[0]
    with open(path, "w") as fh:
        fh.write(f"MTP active set v1\nmode neighborhood\nn_rows {n}\ninverse\n")
        for r in ainv:
            fh.write(" ".join(f"{v:.17g}" for v in r) + "\n")


def test_grades_select_and_break(mlip_fixtures, tmp_path):
    from argyro_run.potentials.maxvol import maxvol

    d = mlip_fixtures / "molecules/291/06"
    S = species_count(d / "pot.mtp")
    cfgs = read_out_cfg(d / "out.cfg")
    # active set from the neighbourhoods of several configurations
    allrows = np.concatenate([_site_rows(d, c, S, tmp_path) for c in cfgs[:8]])
    m = allrows.shape[1]
    A = allrows[maxvol(allrows)]
    ainv = np.linalg.inv(A)
    active = tmp_path / "pot.als"
    _write_active(active, ainv)
    # a configuration in the set: its active atoms grade 1, none above 1 (MaxVol)
    c = cfgs[3]
    rows = _site_rows(d, c, S, tmp_path)
    expected = np.abs(rows @ ainv).max(axis=1)
    lmp = Lmp(d / "pot.mtp", c["type"], c["pos"], style_extra=f" active_set {active}")
    lmp.run0()
    g = lmp.grades()
    lmp.close()
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-9)
    assert g.max() <= 1.0 + 1e-6
    # a far-away configuration extrapolates; select writes it, break stops the run
    c = cfgs[-1]
    rows = _site_rows(d, c, S, tmp_path)
    expected = np.abs(rows @ ainv).max(axis=1)
    dump = tmp_path / "selected.cfg"
    thr = 0.5 * expected.max()
    lmp = Lmp(d / "pot.mtp", c["type"], c["pos"],
              style_extra=f" active_set {active} select {thr} dump {dump} every 5")
    lmp.run0()
    np.testing.assert_allclose(lmp.grades(), expected, rtol=1e-9, atol=1e-9)
    lmp.lmp.command("run 3")  # 'every 5': no second write within 5 steps
    lmp.close()
    sel = read_out_cfg(dump)
    assert len(sel) == 1
    np.testing.assert_allclose(sel[0]["grades"], expected, rtol=1e-5)
    np.testing.assert_allclose(sel[0]["pos"] - sel[0]["pos"][0], c["pos"] - c["pos"][0], atol=1e-8)
    np.testing.assert_array_equal(sel[0]["type"], c["type"])
    assert np.isclose(float(sel[0]["features"]["MV_grade"]), expected.max(), rtol=1e-5)
    lmp = Lmp(d / "pot.mtp", c["type"], c["pos"],
              style_extra=f" active_set {active} break {thr}")
    with pytest.raises(Exception, match="MTP extrapolation break"):
        lmp.run0()
    lmp.close()
    assert m == S + len(re.search(r"moment_coeffs = \{(.*)\}", (d / "pot.mtp").read_text()).group(1).split(","))


def test_lammps_commands_and_status(tmp_path):
    import subprocess

    from argyro_run.errors import UserError
    from argyro_run.potentials.plugin import lammps_commands, plugin_path, plugin_status

    lib = plugin_path()
    assert lib.is_file() and "built" in plugin_status()
    out = subprocess.run([sys.executable, "-m", "argyro_run", "mtp", "lammps-plugin"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == str(lib), out.stderr
    cmds = lammps_commands("a.mtp", ["Li", "P", "S", "Cl"], active_set="a.als", select=2.1,
                           break_=10, dump="sel.cfg", every=10)
    assert cmds == [f"plugin load {lib}",
                    "pair_style mtp a.mtp active_set a.als select 2.1000000000000001 break 10 "
                    "dump sel.cfg every 10",
                    "pair_coeff * * Li P S Cl"]
    with pytest.raises(UserError):
        lammps_commands("a.mtp", ["Li"], break_=3.0)
    with pytest.raises(UserError):
        lammps_commands("a.mtp", ["Li"], active_set="a.als", select=2.0)


def test_species_names_in_potential(mlip_fixtures, tmp_path):
    """A 'species = ...' line maps element symbols to MTP types; unknown symbols are errors."""
    d = mlip_fixtures / "molecules/291/10"
    c = read_out_cfg(d / "out.cfg")[2]
    text = (d / "pot.mtp").read_text().replace("species_count = 2", "species_count = 2\nspecies = C H")
    p = tmp_path / "named.mtp"
    p.write_text(text)
    from argyro_run._stack import lammps_module
    from argyro_run.potentials.plugin import lammps_commands

    energies = []
    for species in (["C", "H"], ["0", "1"]):
        lmp = lammps_module().lammps(cmdargs=["-log", "none", "-screen", "none"])
        for cmd in ("units metal", "boundary f f f", "region b block -40 40 -40 40 -40 40",
                    "create_box 2 b", "mass * 1.0"):
            lmp.command(cmd)
        for q, t in zip(c["pos"], c["type"]):
            lmp.command(f"create_atoms {t + 1} single {q[0]} {q[1]} {q[2]} units box")
        for cmd in lammps_commands(p, species):
            lmp.command(cmd)
        lmp.command("run 0")
        energies.append(lmp.get_thermo("pe"))
        if species[0] == "C":
            with pytest.raises(Exception, match="neither a species"):
                lmp.command("pair_coeff * * C Xx")
        lmp.close()
    assert energies[0] == energies[1]
    assert np.isclose(energies[0], c["e"], rtol=1e-12)


def test_concurrent_first_build_in_fresh_cache(tmp_path, monkeypatch):
    """Two ranks build into an empty ARGYRO_RUN_CACHE at once: one compiles under the lock,
    both get the same library, and it loads in LAMMPS."""
    monkeypatch.setenv("ARGYRO_RUN_CACHE", str(tmp_path / "cache"))
    p = run_mpi(2, ["-m", "tests.potentials._mpi_plugin_build"], timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    paths = [x for x in p.stdout.splitlines() if x.startswith("PATHS")][0].split()[1:]
    assert len(paths) == 2 and paths[0] == paths[1]
    lib = pathlib.Path(paths[0])
    assert lib.is_file() and str(lib).startswith(str(tmp_path / "cache" / "lammps-plugin"))
    assert sorted(x.name for x in lib.parent.iterdir()) == [".lock", lib.name]  # no leftovers
    from argyro_run._stack import lammps_module

    lmp = lammps_module().lammps(cmdargs=["-log", "none", "-screen", "none"])
    lmp.command(f"plugin load {lib}")
    lmp.command("units metal")
    lmp.command("region b block 0 10 0 10 0 10")
    lmp.command("create_box 1 b")
    d = ROOT.parent / "shared" / "mlip-fixtures" / "crystals" / "noncubic" / "02" / "pot.mtp"
    if d.is_file():
        lmp.command(f"pair_style mtp {d}")
        lmp.command("pair_coeff * * 0")
    lmp.close()


def test_grades_select_break_two_ranks(mlip_fixtures, tmp_path):
    """Per-atom grades, the selected .cfg and the break are the same on 1 and 2 ranks."""
    d = mlip_fixtures / "crystals/noncubic/06"
    S = species_count(d / "pot.mtp")
    cfgs = read_out_cfg(d / "out.cfg")
    from argyro_run.potentials.maxvol import maxvol

    rows = np.concatenate([_site_rows(d, c, S, tmp_path) for c in cfgs[:3]])
    ainv = np.linalg.inv(rows[maxvol(rows)])
    active = tmp_path / "a.als"
    _write_active(active, ainv)
    out = {}
    for n in (1, 2):
        dump = tmp_path / f"sel{n}.cfg"
        p = run_mpi(n, ["-m", "tests.potentials._mpi_plugin_grades", str(d), str(active), str(dump), "1.0"],
                    timeout=300, cwd=ROOT)
        assert p.returncode == 0, p.stderr[-3000:]
        out[n] = json.loads([x for x in p.stdout.splitlines() if x.startswith("RESULT")][0][6:])
        out[n]["sel"] = read_out_cfg(dump)
    assert max(out[1]["g"]) > 1.0  # rattled configuration extrapolates w.r.t. 3 configurations
    np.testing.assert_allclose(out[1]["g"], out[2]["g"], rtol=1e-10, atol=1e-12)
    for n in (1, 2):
        assert "MTP extrapolation break" in out[n]["broke"]
        assert len(out[n]["sel"]) == 1
    np.testing.assert_allclose(out[1]["sel"][0]["grades"], out[2]["sel"][0]["grades"], rtol=1e-6)
    np.testing.assert_allclose(out[1]["sel"][0]["grades"], out[1]["g"], rtol=1e-6)
    np.testing.assert_allclose(out[1]["sel"][0]["pos"], out[2]["sel"][0]["pos"], atol=1e-9)


def test_configuration_mode_grade(mlip_fixtures, tmp_path):
    """Configuration-mode active set: the grade of a configuration is max|X A^-1| with X the
    sum of its site rows; configurations in the active set grade exactly 1."""
    from argyro_run.potentials.maxvol import maxvol

    d = mlip_fixtures / "crystals/noncubic/06"  # one species: the count column is not constant x another
    S = species_count(d / "pot.mtp")
    cfgs = read_out_cfg(d / "out.cfg")
    cfgs = [cfgs[0], *cfgs[10:]]  # MLIP's configurations 0, 50, ..., 1000 (tests/data/mlip/README.md)
    X = np.array([_site_rows(d, c, S, tmp_path).sum(axis=0) for c in cfgs])
    assert X.shape[0] > X.shape[1]
    sel = maxvol(X)
    ainv = np.linalg.inv(X[sel])
    active = tmp_path / "conf.als"
    _write_active(active, ainv)
    text = active.read_text().replace("mode neighborhood", "mode configuration")
    active.write_text(text)
    expected = np.abs(X @ ainv).max(axis=1)
    dump = tmp_path / "sel.cfg"
    got = []
    for c in cfgs:
        lmp = Lmp(d / "pot.mtp", c["type"], c["pos"], c["cell"],
                  style_extra=f" active_set {active} select 0.999999 dump {dump}")
        lmp.run0()
        lmp.close()
    sel_cfgs = read_out_cfg(dump)
    got = [float(c["features"]["MV_grade"]) for c in sel_cfgs]
    # every configuration with grade > 0.999999 was written, in order, with its grade
    np.testing.assert_allclose(got, expected[expected > 0.999999], rtol=1e-5)
    assert np.allclose(expected[sel], 1.0, atol=1e-9)
    assert len(got) >= len(sel)


def test_matches_motep_on_four_species_periodic_cell(mlip_fixtures, tmp_path):
    """Independent implementation (motep 0.2 cext engine): a 4-species argyrodite cell,
    sheared and rattled, with the real MLIP level-10 basis and random coefficients: energy
    to 1e-10 relative, forces and stress to 1e-10 of their scale."""
    import importlib.util

    from ase.data import atomic_numbers
    from motep.calculator import make_calculator
    from motep.io.mlip.mtp import read_mtp

    from argyro_run.structures import argyrodite

    spec = importlib.util.spec_from_file_location("mtp_speed", ROOT / "benchmarks" / "mtp_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    species = ["Li", "P", "S", "Cl"]
    pot = tmp_path / "l10x4.mtp"
    bench.write_from_template(mlip_fixtures / "crystals/noncubic/10/pot.mtp", pot, species,
                              seed=7, moment_scale=1e-2)
    atoms = argyrodite("Cl", li_seed=0)
    atoms.set_cell(atoms.cell.array @ np.array([[1.0, 0.04, -0.03], [0.0, 1.02, 0.05], [0.0, 0.0, 0.98]]),
                   scale_atoms=True)
    atoms.rattle(0.05, seed=3)
    types = np.array([species.index(s) for s in atoms.get_chemical_symbols()])
    lmp = Lmp(pot, types, atoms.positions, atoms.cell.array, S=4)
    lmp.run0()
    e, f, v = lmp.energy(), lmp.forces(), lmp.virial()
    lmp.close()
    data = read_mtp(str(pot))
    data.species = [atomic_numbers[s] for s in species]
    a = atoms.copy()
    a.calc = make_calculator(data, engine="cext")
    e_ref, f_ref = a.get_potential_energy(), a.get_forces()
    s_ref = a.get_stress(voigt=True) * a.get_volume()  # ASE: stress = -virial / V
    assert abs(f_ref).max() > 0.1
    assert abs(e - e_ref) <= 1e-10 * abs(e_ref)
    np.testing.assert_allclose(f, f_ref, rtol=0, atol=1e-10 * abs(f_ref).max())
    np.testing.assert_allclose(v, -s_ref, rtol=0, atol=1e-10 * abs(s_ref).max())


def _four_species_case(mlip_fixtures, tmp_path, seed=11):
    import importlib.util

    from argyro_run.structures import argyrodite

    spec = importlib.util.spec_from_file_location("mtp_speed", ROOT / "benchmarks" / "mtp_speed.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    species = ["Li", "P", "S", "Cl"]
    pot = tmp_path / f"l10x4_{seed}.mtp"
    bench.write_from_template(mlip_fixtures / "crystals/noncubic/10/pot.mtp", pot, species,
                              seed=seed, moment_scale=1e-2)
    atoms = argyrodite("Cl", li_seed=seed)
    atoms.rattle(0.05, seed=seed)
    return pot, species, atoms


def test_matches_python_evaluator_and_grades(mlip_fixtures, tmp_path):
    """Plugin vs argyro_run.potentials.evaluate (1e-10 relative) and vs grades.grade, on a
    4-species periodic cell."""
    import argyro_run.potentials.evaluate as ev
    import argyro_run.potentials.grades as gr
    import argyro_run.potentials.mtp as mtp_mod
    pot, species, atoms = _four_species_case(mlip_fixtures, tmp_path)
    mtp = mtp_mod.read_mtp(pot)
    mtp.species = species
    ref = ev.evaluate(mtp, atoms)
    types = np.array([species.index(s) for s in atoms.get_chemical_symbols()])
    images = [_four_species_case(mlip_fixtures, tmp_path, seed=s)[2] for s in (1, 2, 3)]
    active = gr.select_active_set(mtp, images, mode="neighborhood")
    als = tmp_path / "n.als"
    gr.save_active_set(als, active)
    lmp = Lmp(pot, types, atoms.positions, atoms.cell.array, S=4, style_extra=f" active_set {als}")
    lmp.run0()
    e, f, v, g, ea = lmp.energy(), lmp.forces(), lmp.virial(), lmp.grades(), lmp.peratom_energy()
    lmp.close()
    assert abs(e - ref["energy_eV"]) <= 1e-10 * abs(ref["energy_eV"])
    np.testing.assert_allclose(f, ref["forces_eV_per_A"], rtol=0, atol=1e-10 * abs(ref["forces_eV_per_A"]).max())
    np.testing.assert_allclose(ea, ref["energies_eV"], rtol=1e-10, atol=1e-10)
    s_ref = np.asarray(ref["stress_eV_per_A3"]) * atoms.get_volume()
    np.testing.assert_allclose(v, -s_ref, rtol=0, atol=1e-10 * abs(s_ref).max())
    _, g_ref = gr.grade(mtp, active, atoms)
    np.testing.assert_allclose(g, g_ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("level", [16, 20])
def test_high_levels_match_python_evaluator(tmp_path, level):
    """MLIP's level-16 (4 radial functions: the plugin's vectorised radial path) and level-20 (5:
    the generic path) bases with tensors up to rank 6-8, random coefficients of realistic size, on
    a rattled, sheared 4-species argyrodite cell: energy, forces, per-atom energies and virial equal
    the Python evaluator's to 1e-10."""
    from argyro_run.potentials.evaluate import evaluate
    from argyro_run.potentials.mtp import init_mtp, write_mtp
    from argyro_run.structures import argyrodite

    species = ["Li", "P", "S", "Cl"]
    mtp = init_mtp(level, species, max_dist_A=5.0, min_dist_A=1.5, radial_basis_size=8, seed=level)
    rng = np.random.default_rng(level)
    mtp.radial_coeffs = rng.normal(0, 0.3, mtp.radial_coeffs.shape)
    mtp.moment_coeffs = rng.normal(0, 1e-2, mtp.n_scalar)
    pot = tmp_path / f"l{level}.mtp"
    write_mtp(mtp, pot)
    atoms = argyrodite("Cl", li_seed=1)
    atoms.set_cell(atoms.cell.array @ np.array([[1.0, 0.03, 0.0], [0.0, 0.99, -0.04], [0.02, 0.0, 1.01]]),
                   scale_atoms=True)
    atoms.rattle(0.08, seed=level)
    ref = evaluate(mtp, atoms)
    types = np.array([species.index(s) for s in atoms.get_chemical_symbols()])
    lmp = Lmp(pot, types, atoms.positions, atoms.cell.array, S=4)
    lmp.run0()
    e, f, v, ea = lmp.energy(), lmp.forces(), lmp.virial(), lmp.peratom_energy()
    lmp.close()
    assert abs(ref["forces_eV_per_A"]).max() > 1e-3
    assert abs(e - ref["energy_eV"]) <= 1e-10 * abs(ref["energy_eV"])
    np.testing.assert_allclose(f, ref["forces_eV_per_A"], rtol=0, atol=1e-10 * abs(ref["forces_eV_per_A"]).max())
    np.testing.assert_allclose(ea, ref["energies_eV"], rtol=1e-10, atol=1e-12 * abs(ref["energies_eV"]).max())
    s_ref = np.asarray(ref["stress_eV_per_A3"]) * atoms.get_volume()
    np.testing.assert_allclose(v, -s_ref, rtol=0, atol=1e-10 * abs(s_ref).max())
