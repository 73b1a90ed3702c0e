"""Command line: ``argyro-run [VERB] ...``; ``argyro-run input.toml`` means ``run``.

Each verb lives in its own module of this package exposing ``register(subparsers)``; the
stage packages hold the work, these modules only parse arguments and print.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from argyro_run import __version__
from argyro_run.errors import UserError
from argyro_run.launcher import pin_rank_threads

# verb name -> module in argyro_run.cli (order = order in --help)
VERBS = {
    "run": "run",
    "validate": "validate",
    "plan": "plan",
    "init": "init",
    "schema": "schema",
    "structure": "structure",
    "inspect": "inspect",
    "report": "report",
    "doctor": "doctor",
    "mtp": "mtp",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="argyro-run",
        description=(
            "Li-ion transport in polycrystalline argyrodites from one TOML file: structures -> "
            "MTP active learning -> LAMMPS MD -> diffusion analysis -> polycrystal FE. "
            "'argyro-run input.toml' is short for 'argyro-run run input.toml'."
        ),
    )
    parser.add_argument("--version", action="version", version=f"argyro-run {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for module in VERBS.values():
        importlib.import_module(f"argyro_run.cli.{module}").register(sub)
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    """``argyro-run input.toml [opts]`` -> ``argyro-run run input.toml [opts]``."""
    if argv and not argv[0].startswith("-") and argv[0] not in VERBS:
        return ["run", *argv]
    return argv


def _world_rank() -> int:
    """This process's MPI world rank: from mpi4py when MPI is initialised, else from the launcher's
    environment (``launcher.launcher_of``), else 0."""
    import os

    from argyro_run.launcher import launcher_of

    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        return mpi.COMM_WORLD.Get_rank()
    return int(launcher_of(os.environ)["rank"] or 0)


def main(argv: list[str] | None = None) -> int:
    pin_rank_threads()                   # before any verb imports numpy: one core per rank (launcher.py)
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(_normalise_argv(argv))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = args.func(args)
    except UserError as exc:
        if _world_rank() == 0:           # under mpiexec every rank gets the same error: print it once
            print(f"error: {exc}", file=sys.stderr)
            for line in exc.problems:
                print(f"  {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `argyro-run plan x.toml | head`: the reader left, not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
