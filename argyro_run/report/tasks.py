"""Task ``summary``: the run summary (``report/summary.py``) as a ``Result`` in the archive."""

from __future__ import annotations

import numpy as np

from argyro_run.report.summary import summary_rows, summary_text
from argyro_run.results import Result


def run_summary(params: dict, deps: dict[str, Result], comm, workdir) -> Result:
    """``text`` (the tables printed at the end of a run) and ``table/*`` (one row per key number)."""
    rows = summary_rows(deps)
    res = Result()
    res.add("text", summary_text(deps, (params.get("run") or {}).get("name", "")), "")
    res.add("table/task", np.asarray([r[0] for r in rows], dtype=object), "")
    res.add("table/quantity", np.asarray([r[1] for r in rows], dtype=object), "")
    res.add("table/units", np.asarray([r[2] for r in rows], dtype=object), "")
    res.add("table/value", np.asarray([r[3] for r in rows], dtype=float), "see table/units")
    return res
