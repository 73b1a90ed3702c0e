"""Run under ``mpiexec -n 2``: label two H2 cells with CP2K through the reference workers
(``label_distributed``); rank 0 writes the outcomes and the launcher variables the ranks had
to ``<out>/labels.json``. Arguments: OUT COMMAND."""

import json
import os
import sys
from pathlib import Path

from ase import Atoms

from argyro_run._stack import MPI
from argyro_run.learning.reference import ReferenceSpec, label_distributed

CP2K_KWARGS = {"basis_set_file": "BASIS_MOLOPT", "potential_file": "GTH_POTENTIALS", "cutoff": 2000.0,
               "xc": "LDA", "label": "h2"}


def h2_cells():
    return [Atoms("H2", positions=[[0, 0, 0], [0, 0, d]], cell=[4, 4, 4], pbc=True) for d in (0.70, 0.78)]


def serial_cp2k(folder: Path) -> list[tuple[float, list]]:
    """(energy_eV, forces) of the cells from a serial CP2K shell started here (the reference values)."""
    from ase.calculators.cp2k import CP2K

    out = []
    for k, atoms in enumerate(h2_cells()):
        d = folder / f"serial{k}"
        d.mkdir(parents=True)
        with CP2K(command="cp2k_shell.psmp", directory=str(d), **CP2K_KWARGS) as calc:
            atoms.calc = calc
            out.append((float(atoms.get_potential_energy()), atoms.get_forces().tolist()))
    return out


def env_dump_wrapper(folder: Path, launch: str) -> Path:
    """An executable script that writes its environment to ``folder/env.<pid>`` and execs ``launch``."""
    import stat

    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "cp2k.sh"
    wrapper.write_text(f'#!/bin/bash\nenv > "{folder}/env.$$"\nexec {launch}\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


def env_dumps(folder: Path) -> list[dict[str, str]]:
    return [dict(line.split("=", 1) for line in f.read_text().splitlines() if "=" in line)
            for f in sorted(folder.glob("env.*"))]


if __name__ == "__main__":
    out, command = Path(sys.argv[1]), sys.argv[2]
    comm = MPI.COMM_WORLD
    spec = ReferenceSpec(calculator="cp2k", command=command, kwargs=CP2K_KWARGS, timeout_s=600, max_retries=0)
    res = label_distributed(h2_cells(), spec, out / "work", comm)
    rank_env = comm.gather(sorted(k for k in os.environ if k.startswith(("PMI_", "HYDI_", "MPI_LOCAL", "SLURM_STEP_ID"))), root=0)
    if comm.rank == 0:
        (out / "labels.json").write_text(json.dumps({
            "size": comm.size, "rank_env": rank_env,
            "outcomes": [{"ok": o.ok, "error": o.error, "energy_eV": o.energy_eV,
                          "forces": None if o.forces_eV_per_A is None else o.forces_eV_per_A.tolist()} for o in res]}))
