"""``argyro-run run input.toml [--outdir DIR] [--force]`` (also ``argyro-run input.toml``); start under
mpiexec for MPI."""


def _run(args) -> int:
    from argyro_run.runtime.driver import run_input

    return run_input(args.input, force=args.force, outdir=args.outdir, overrides=args.set)


def register(sub):
    p = sub.add_parser("run", help="validate, plan and execute an input file (MPI-parallel)")
    p.add_argument("input", help="input TOML file")
    p.add_argument("-o", "--outdir", metavar="DIR",
                   help="folder for the results: relative run.archive and run.workdir start there instead of at "
                        "the input file's folder (created if missing; input files named in the input are still "
                        "read relative to the input file)")
    p.add_argument("--force", action="store_true",
                   help="begin a new archive even if the path holds another run's results (another run.name; "
                        "the old file is kept as .bak-<time>)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of the input, validated like the file (repeatable), "
                        "e.g. --set active_learning.levels[0].exploration_ps=2")
    p.set_defaults(func=_run)
