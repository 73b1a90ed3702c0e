"""Reading what ``argyro-run report`` wrote: the Markdown tables of ``summary.md`` and the PNGs."""

from __future__ import annotations

import re

PNG = b"\x89PNG\r\n\x1a\n"


def tables(md: str) -> dict[str, list[list[dict]]]:
    """Markdown tables of ``summary.md`` by their '## ' section: a list of tables, each a list of row dicts."""
    out: dict[str, list[list[dict]]] = {}
    section, lines = None, md.splitlines()
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("## "):
            section = ln[3:].strip()
        if ln.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            head = [c.strip() for c in ln.strip("|").split(" | ")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("| "):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", lines[i].strip()[1:-1])]
                rows.append(dict(zip(head, cells)))
                i += 1
            out.setdefault(section, []).append(rows)
            continue
        i += 1
    return out


def num(cell: str) -> float:
    return float(cell.split("±")[0])


def check_pngs(rep, names):
    for n in names:
        p = rep.figures[n]
        data = p.read_bytes()
        assert data[:8] == PNG, n
        assert len(data) > 10_000, (n, len(data))
