"""docs/input.md lists every key of every input table (generated from the pydantic models)."""

import re
from pathlib import Path

from argyro_run.config.schema import json_schema
from argyro_run.report.input_doc import keys_by_section, unit_of

DOC = Path(__file__).parents[2] / "docs" / "input.md"


def _doc_sections() -> dict[str, str]:
    text = DOC.read_text()
    parts = re.split(r"^### `(\[\[?[\w.]+\]\]?)`\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_key_of_every_section_is_in_its_table():
    doc = _doc_sections()
    sections = keys_by_section()
    assert set(sections) <= set(doc), sorted(set(sections) - set(doc))
    for header, keys in sections.items():
        body = doc[header]
        if "Same keys as" in body.split("|", 1)[0]:
            ref = re.search(r"Same keys as `([^`]+)`", body).group(1)
            assert sections[ref] == keys
            continue
        for k in keys:
            assert f"| `{k}` |" in body, f"{header} {k} missing from docs/input.md (regenerate: python -m " \
                                         "argyro_run.report.input_doc docs/input.md)"


def test_schema_properties_all_documented():
    """Independent walk of the JSON Schema: every property name appears as a documented key."""
    schema = json_schema()
    text = DOC.read_text()
    names = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.get("properties", {}).items():
                names.add(k)
                walk(v)
            for v in node.values():
                if isinstance(v, (dict, list)):
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    top = set(schema["properties"])
    for v in schema["properties"].values():
        walk(v)
    for v in schema.get("$defs", {}).values():
        walk(v)
    assert {"run", "md", "fe", "microstructure"} <= top and {"timestep_fs", "D0_m2_per_s", "sigma"} <= names
    assert not [t for t in top if f"`[{t}]`" not in text and f"`[[{t}]]`" not in text]
    assert not sorted(n for n in names if f"`{n}`" not in text)


def test_units_from_key_names():
    assert unit_of("timestep_fs") == "fs" and unit_of("D0_m2_per_s") == "m²/s" and unit_of("max_dist_A") == "Å"
    assert unit_of("carrier_density_per_nm3") == "1/nm³" and unit_of("temperatures_K") == "K"
    assert unit_of("n_grains") == "" and unit_of("structures") == ""
