"""Reference cost: energy + forces + stress of one 52-atom Li6PS5Cl configuration, one thread.

Usage:  .venv/bin/python benchmarks/references.py [REPEATS]

Every built-in reference that needs no external code, in the same process and on the same
configurations: tblite GFN1-xTB, CHGNet 0.3.0 and r2scan, SevenNet-0 (7net-0) and SevenNet-MF-0
(PBE and R2SCAN heads) -- the calculators come from ``make_calculator`` exactly as in the
reference worker (``threads=1``). Each repeat evaluates a freshly rattled (0.05 A) copy of the
ordered 52-atom cubic cell, so nothing is reused from the previous configuration. Prints one line
per calculator: model load time, then min and median CPU time (``time.process_time``) and wall
time per configuration, and a fresh worker's start-up (CPU seconds of a new process that imports
the code, loads the model and labels once, less one label: ``ReferenceCost.startup_s``). CPU time
is what to compare on a shared machine; with one thread it should be close to the wall time of an
idle one.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"       # before numpy/torch/tblite start their thread pools
os.environ["MKL_NUM_THREADS"] = "1"

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from importlib.metadata import version  # noqa: E402

from argyro_run.learning.reference import ReferenceSpec, make_calculator  # noqa: E402
from argyro_run.structures import argyrodite  # noqa: E402

CASES = [("tblite", None), ("chgnet", "0.3.0"), ("chgnet", "r2scan"), ("sevenn", "7net-0"),
         ("sevenn", "7net-mf-0-pbe"), ("sevenn", "7net-mf-0-r2scan"), ("sevenn", "7net-l3i5")]

# what a reference worker pays before its first label (plan/cost.py ReferenceCost.startup_s): a fresh
# python process importing the code and loading the model, then one label; its CPU seconds less the
# label's median are the start-up
_STARTUP = """
import os, time
os.environ["OMP_NUM_THREADS"] = "1"
from argyro_run.learning.reference import ReferenceSpec, make_calculator
from argyro_run.structures import argyrodite
a = argyrodite("Cl"); a.rattle(0.05, seed=1)
a.calc = make_calculator(ReferenceSpec(calculator={name!r}, model={model!r}), ".", threads=1)
a.get_potential_energy(); a.get_forces(); a.get_stress()
"""


def startup_cpu_s(name: str, model: str | None) -> float:
    """CPU seconds (user + system) of a fresh process that loads the reference and labels once."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", _STARTUP.format(name=name, model=model)], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def one(calc, atoms) -> tuple[float, float]:
    a = atoms.copy()
    a.calc = calc
    c0, w0 = time.process_time(), time.perf_counter()
    a.get_potential_energy()
    a.get_forces()
    a.get_stress()
    return time.process_time() - c0, time.perf_counter() - w0


def main(repeats: int) -> None:
    base = argyrodite("Cl")
    configs = []
    for k in range(repeats + 1):  # the first one warms up (lazy initialisation, JIT)
        a = base.copy()
        a.rattle(0.05, seed=100 + k)
        configs.append(a)
    print(f"{len(base)}-atom Li6PS5Cl, E+F+stress, 1 thread, {repeats} configurations (+1 warm-up); "
          f"ase {version('ase')}, tblite {version('tblite')}, chgnet {version('chgnet')}, "
          f"sevenn {version('sevenn')}, torch {version('torch')}", flush=True)
    for name, model in CASES:
        spec = ReferenceSpec(calculator=name, model=model)
        w0 = time.perf_counter()
        calc = make_calculator(spec, ".", threads=1)
        load_s = time.perf_counter() - w0
        one(calc, configs[0])
        if name == "tblite":  # a new SCF from scratch every time, as in the worker
            times = [one(make_calculator(spec, ".", threads=1), a) for a in configs[1:]]
        else:
            times = [one(calc, a) for a in configs[1:]]
        cpu = [t[0] for t in times]
        wall = [t[1] for t in times]
        label = f"{name}:{model}" if model else f"{name}:{spec.method}"
        startup = startup_cpu_s(name, model) - statistics.median(cpu)
        print(f"{label:24s} load_s={load_s:6.2f}  cpu_s min={min(cpu):6.3f} median={statistics.median(cpu):6.3f}  "
              f"wall_s min={min(wall):6.3f} median={statistics.median(wall):6.3f}  worker_startup_cpu_s={startup:6.2f}",
              flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
