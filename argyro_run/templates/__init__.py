"""Input templates shipped with the package (``argyro-run init``); ``inputs/`` holds copies."""

from __future__ import annotations

from importlib import resources


def template_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".toml"))


def template_text(name: str) -> str:
    from argyro_run.errors import UserError

    if name not in template_names():
        raise UserError(f"unknown template {name!r}; available: {', '.join(template_names())}")
    return resources.files(__name__).joinpath(f"{name}.toml").read_text(encoding="utf-8")
