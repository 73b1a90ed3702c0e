"""``argyro-run report``: PNG figures and a Markdown summary from a results archive.

``make_report(archive, out_dir)`` reads the archive (``collect``), draws each figure whose data
is there (``figures``: plain functions on numpy data returning matplotlib Axes; Agg, no display)
and writes ``summary.md`` (``markdown``) with the same numbers as tables. See ``docs/report.md``.
"""

from argyro_run.report.build import Report, make_report  # noqa: F401
from argyro_run.report.collect import ReportData, collect  # noqa: F401

__all__ = ["Report", "ReportData", "collect", "make_report"]
