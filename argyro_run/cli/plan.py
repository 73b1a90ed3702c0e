"""``argyro-run plan FILE [--outdir DIR] [--json] [--ranks N] [--sbatch JOB.sh]``: print the task DAG
(done tasks marked if the archive exists) with each task's estimated time (``argyro_run/plan/cost.py``)
and, for N ranks, the wall time and core-hours of the whole run under the runtime's wave schedule;
``--sbatch`` also writes a Slurm batch script sized from the plan (``[slurm]``)."""

from __future__ import annotations

from argyro_run.plan.cost import human_s


def _plan(args) -> int:
    from argyro_run.config import load_config
    from argyro_run.plan import build_plan
    from argyro_run.plan.done import done_task_ids

    cfg = load_config(args.input, output_dir=args.outdir, overrides=args.set)
    plan = build_plan(cfg)
    if args.sbatch:
        _write_sbatch(args, cfg, plan)
    done = done_task_ids(plan, cfg.resolve_output(cfg.run.archive))
    if args.json:
        if not args.ranks:
            print(plan.to_json(done))
            return 0
        import json

        from argyro_run.plan.cost import schedule

        doc = json.loads(plan.to_json(done))
        s = schedule(plan.tasks, args.ranks)
        doc["schedule"] = {"ranks": args.ranks, "wall_s": s["wall_s"], "core_s": s["core_s"], "waves": s["waves"]}
        print(json.dumps(doc, indent=2, sort_keys=True))
        return 0
    core_h = sum(t.cost_s * t.ranks for t in plan.tasks) / 3600.0
    print(f"plan of {args.input}: {len(plan)} tasks, about {human_s(plan.total_cost_s())} of work "
          f"({core_h:.1f} core-hours on the ranks each task is planned for)")
    if args.ranks:
        print(_ranks_line(plan, args.ranks))
    if done is None:
        print("(archive exists but cannot be read for done tasks yet)")
    stage = None
    for t in plan.tasks:
        if t.stage != stage:
            stage = t.stage
            print(f"{stage}:")
        mark = "[done]" if done and t.id in done else ("[dyn] " if t.dynamic else "      ")
        deps = f"  <- {', '.join(t.deps)}" if t.deps else ""
        atoms = f"atoms={t.n_atoms}" if getattr(t, "n_atoms", 0) else ""
        print(f"  {mark} {t.id:<36} {t.kind:<16} ranks={t.ranks:<3} {atoms:<11} ~{human_s(t.cost_s):>7}  {t.hash}{deps}")
        if t.dynamic and not (done and t.id in done):
            print(f"         {t.description}")      # its size is decided at run time: what to expect
    return 0


def _write_sbatch(args, cfg, plan) -> None:
    import shutil
    import sys
    from pathlib import Path

    from argyro_run.errors import UserError
    from argyro_run.runtime.slurm import batch_script

    exe = Path(sys.executable).parent / "argyro-run"
    text = batch_script(cfg, plan, Path(args.input).resolve(),
                        str(exe) if exe.exists() else (shutil.which("argyro-run") or "argyro-run"))
    out = Path(args.sbatch)
    if out.exists() and not args.force:
        raise UserError(f"--sbatch: {out} exists; allowed: another file name, or --force to replace it")
    out.write_text(text)
    print(f"wrote {out} (submit with: sbatch {out})", file=sys.stderr)


def _ranks_line(plan, ranks: int) -> str:
    from argyro_run.plan.cost import schedule

    s = schedule(plan.tasks, ranks)
    return (f"on {ranks} rank(s): about {human_s(s['wall_s'])} wall in {s['waves']} waves, "
            f"{s['core_s'] / 3600.0:.1f} core-hours reserved (tasks wider than {ranks} ranks run on {ranks})")


def _positive(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--ranks must be a positive integer, got {text!r}")
    return n


def register(sub):
    p = sub.add_parser("plan", help="print the execution plan (task DAG) of an input file")
    p.add_argument("input", help="input TOML file")
    p.add_argument("-o", "--outdir", metavar="DIR",
                   help="results folder of the run (as given to 'run --outdir'): where the archive is looked for")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--ranks", type=_positive, default=None, metavar="N",
                   help="also estimate the wall time and core-hours of the whole run on N MPI ranks")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of the input as 'argyro-run run --set' does")
    p.add_argument("--sbatch", metavar="JOB.sh", help="also write a Slurm batch script sized from the plan ([slurm] settings)")
    p.add_argument("--force", action="store_true", help="with --sbatch: replace an existing script")
    p.set_defaults(func=_plan)
