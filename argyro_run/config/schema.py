"""JSON Schema of the input file (for editors: taplo / Even Better TOML)."""

from __future__ import annotations

import json
from typing import Any

from argyro_run.config.root import Config

SCHEMA_ID = "https://argyro-run.invalid/schemas/argyro-run.schema.json"


def json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "argyro-run input", **{k: v for k, v in schema.items() if k != "title"}}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
