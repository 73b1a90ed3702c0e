"""Input language: pydantic models of the TOML sections, loader, JSON Schema."""

from argyro_run.config.loader import config_from_dict, config_from_text, load_config
from argyro_run.config.root import Config
from argyro_run.config.schema import json_schema, json_schema_text

__all__ = ["Config", "load_config", "config_from_text", "config_from_dict", "json_schema", "json_schema_text"]
