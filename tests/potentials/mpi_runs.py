"""Running a small training script under 1 and 2 MPI ranks (the rank-count independence checks
of ``test_train.py`` and ``test_moments.py``)."""

from __future__ import annotations

import json

from tests.conftest import REPO, run_mpi


def json_on_ranks(script_text: str, tmp_path, ranks=(1, 2)) -> list:
    """The JSON each run of ``script_text`` (formatted with ``repo``; it writes its result to
    ``sys.argv[1]``) leaves, one per rank count in ``ranks``."""
    script = tmp_path / "mpi_script.py"
    script.write_text(script_text.format(repo=str(REPO)))
    results = []
    for n in ranks:
        out = tmp_path / f"r{n}.json"
        proc = run_mpi(n, [str(script), str(out)], timeout=300, cwd=REPO)
        assert proc.returncode == 0, proc.stderr[-3000:]
        results.append(json.loads(out.read_text()))
    return results
