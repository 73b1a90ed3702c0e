"""``run_load_potential``: a trained MTP given in ``[potential] file`` as a task Result.

Archive layout (same paths as the active-learning task, so MD reads either the same way):
``mtp/text`` (the .mtp text), ``mtp/species``, ``mtp/level``, ``active_set/text`` (when an active
set is found: ``<file stem>.als`` next to the potential, else one selected from
``[potential] training_set`` in neighbourhood mode), ``source/path``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from argyro_run.errors import UserError
from argyro_run.results import Result

log = logging.getLogger(__name__)


def _resolve(path: str, params: dict) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(params.get("input_dir", ".")) / p
    return p


def run_load_potential(params: dict, deps: dict, comm, workdir: Path) -> Result:
    from argyro_run.potentials.cfg import read_training_set
    from argyro_run.potentials.grades import format_active_set, load_active_set, select_active_set
    from argyro_run.potentials.mtp import format_mtp, read_mtp_for

    pot = params["potential"]
    path = _resolve(pot["file"], params)
    mtp = read_mtp_for(path, "potential.file")
    species = list(pot.get("species") or [])
    if mtp.species and species and list(mtp.species) != species:
        raise UserError(f"potential.species: {species} differs from the species line of {path} ({mtp.species}); "
                        "allowed: the file's order, or leave potential.species out")
    if not mtp.species:
        if len(species) != mtp.species_count:
            raise UserError(f"potential.species: {path} has {mtp.species_count} MTP types and no species line; "
                            f"give exactly {mtp.species_count} element symbols (got {species})")
        mtp.species = species
    r = Result()
    r.add("mtp/text", format_mtp(mtp), "", format="MLIP .mtp")
    r.add("mtp/species", " ".join(mtp.species), "", note="MTP type order, space separated")
    r.add("mtp/level", -1 if mtp.level is None else mtp.level, "1", note="-1: not one of MLIP's level templates")
    r.add("source/path", str(path), "")
    als = path.with_suffix(".als")
    active = None
    if als.is_file():
        try:
            active = load_active_set(als)
        except ValueError as e:
            raise UserError(f"potential.file: active set {als}: {e}") from None
        if len(active.inverse) != mtp.species_count + mtp.n_scalar:
            raise UserError(f"potential.file: active set {als} has {len(active.inverse)} rows, the potential needs "
                            f"{mtp.species_count + mtp.n_scalar}")
        r.add("source/active_set_path", str(als), "")
    elif pot.get("training_set"):
        ts = _resolve(pot["training_set"], params)
        images = read_training_set(ts, mtp.species)
        active = select_active_set(mtp, images, mode="neighborhood")
        r.add("source/active_set_from", str(ts), "")
    else:
        log.info("no active set for %s (no %s, no potential.training_set): MD runs without extrapolation grades",
                 path, als.name)
    if active is not None:
        r.add("active_set/text", format_active_set(active), "", format="MTP active set v1")
        r.add("active_set/n_filled", int(np.sum(active.filled)), "1")
    return r
