"""Helpers shared by the verb modules."""

from __future__ import annotations

from argyro_run.errors import NotBuiltYet


def not_built(what: str, issue: str):
    """Return an argparse ``func`` that reports a verb as not built yet (exit 2)."""

    def _func(args):
        raise NotBuiltYet(what, issue)

    return _func
