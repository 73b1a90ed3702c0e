"""``argyro-run mtp export ARCHIVE -o DIR``: a learned potential out of a run's archive as MLIP files.

Writes ``<name>.mtp`` (the potential), ``<name>.als`` (its active set, when the task has one: what
``pair_style mtp`` and ``argyro-run mtp grade`` read for extrapolation grades) and ``<name>.cfg``
(the labelled training set, with each image's ``energy_weight`` and per-atom ``force_weight`` as
features: ``[potential] training_set`` of a new input starts from it, with the cut-outs' rims kept
out of the fit as in the archive). Never overwrites a file."""

from __future__ import annotations

import re
from pathlib import Path

from argyro_run.errors import UserError


def add_arguments(q) -> None:
    q.add_argument("archive", help="a run's HDF5 archive")
    q.add_argument("--task", default=None,
                   help="the learning task, e.g. learning/level10 (default: the highest level that is done)")
    q.add_argument("-o", "--output", required=True, help="folder for the files (created if missing)")
    q.add_argument("--name", default=None, help="file name stem (default: the task's, e.g. level10)")
    q.set_defaults(func=run)


def _learning_tasks(arch) -> list[str]:
    done = [t for t, a in arch.tasks.items() if a.get("status") == "done"]
    return sorted((t for t in done if re.fullmatch(r"learning/level\d+", t)), key=lambda t: int(t.rsplit("level", 1)[1]))


def run(args) -> int:
    from argyro_run.archive import open_archive
    from argyro_run.learning.dataset import training_set_from_result
    from argyro_run.potentials.cfg import write_cfg
    from argyro_run.results import as_text

    try:
        arch = open_archive(args.archive)
    except (FileNotFoundError, OSError) as e:
        raise UserError(f"archive: cannot read {args.archive}: {e}") from None
    tasks = _learning_tasks(arch)
    task = args.task or (tasks[-1] if tasks else None)
    if task is None or task not in tasks:
        raise UserError(f"--task: {task or 'a learning task'} is not a finished learning task of {args.archive}; "
                        f"allowed: {', '.join(tasks) or 'none (the archive holds no finished learning task)'}")
    res = arch.result(task)
    species = as_text(res.get("mtp/species")).split()
    stem = args.name or task.rsplit("/", 1)[-1]
    out = Path(args.output)
    files = {"mtp": out / f"{stem}.mtp", "cfg": out / f"{stem}.cfg"}
    if "active_set/text" in res:
        files["als"] = out / f"{stem}.als"
    existing = [str(p) for p in files.values() if p.exists()]
    if existing:
        raise UserError(f"-o/--output: {', '.join(existing)} exist(s); allowed: a folder without them, or --name "
                        "for other file names (nothing is overwritten)")
    out.mkdir(parents=True, exist_ok=True)
    files["mtp"].write_text(as_text(res.get("mtp/text")), encoding="utf-8")
    if "als" in files:
        files["als"].write_text(as_text(res.get("active_set/text")), encoding="utf-8")
    images = training_set_from_result(res, "training_set")
    write_cfg(files["cfg"], images, species)
    local = sum(1 for a in images if "force_weight" in a.arrays and not (a.arrays["force_weight"] == 1).all())
    conv = res.get_attrs("").get("converged")
    state = "" if conv is None else (" (converged)" if bool(conv) else " (not converged)")
    print(f"{task} of {args.archive}{state}: "
          f"{', '.join(str(p) for p in files.values())}; {len(images)} training images "
          f"({local} local cut-outs with their force weights), species {' '.join(species)}")
    return 0
