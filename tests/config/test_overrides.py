"""``--set KEY=VALUE``: applied to the parsed document before validation, so an override is
checked like the file; bad keys and values are input errors (exit 2) naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from argyro_run.config import load_config
from argyro_run.config.overrides import apply_overrides, parse_key, parse_value
from argyro_run.errors import UserError

REPO = Path(__file__).resolve().parents[2]
CL = REPO / "inputs" / "Li6PS5Cl.toml"
CLI = str(Path(sys.executable).parent / "argyro-run")


def test_key_and_value_parsing():
    assert parse_key("active_learning.levels[0].exploration_ps") == ["active_learning", "levels", 0, "exploration_ps"]
    assert parse_value("2") == 2 and parse_value("2.5") == 2.5 and parse_value("[1, 1, 2]") == [1, 1, 2]
    assert parse_value('"x"') == "x" and parse_value("stop") == "stop" and parse_value("true") is True
    with pytest.raises(UserError, match="not a key path"):
        parse_key("a..b")


def test_override_changes_only_that_value_and_leaves_the_document_alone():
    doc = {"md": {"production_ps": 500.0}, "active_learning": {"levels": [{"level": 8}, {"level": 16}]}}
    out = apply_overrides(doc, ["active_learning.levels[1].exploration_ps=2", "md.production_ps=100"])
    assert out["active_learning"]["levels"][1] == {"level": 16, "exploration_ps": 2}
    assert out["md"]["production_ps"] == 100 and doc["md"]["production_ps"] == 500.0
    assert "exploration_ps" not in doc["active_learning"]["levels"][1]


@pytest.mark.parametrize("item, message", [
    ("active_learning.levels[2].level=4", r"levels\[2\] does not exist \(the input has 2 entries\)"),
    ("nosuch.key=1", "nosuch is not in the input file"),
    ("md.production_ps", "expected KEY=VALUE"),
])
def test_bad_override_is_an_input_error(item, message):
    with pytest.raises(UserError, match=message):
        load_config(CL, overrides=[item])


def test_override_is_validated_like_the_file():
    cfg = load_config(CL, overrides=["active_learning.levels[0].exploration_ps=2"])
    assert cfg.active_learning.levels[0].exploration_ps == 2.0 and cfg.active_learning.levels[1].exploration_ps == 50.0
    with pytest.raises(UserError) as e:
        load_config(CL, overrides=["active_learning.levels[0].exploration_ps=-1", "md.nosuch=1"])
    text = "\n".join(e.value.problems)
    assert "active_learning.levels[0].exploration_ps" in text and "greater than 0" in text and "md.nosuch" in text


def test_run_with_a_bad_override_exits_2_and_writes_nothing(tmp_path):
    (tmp_path / "in.toml").write_text(CL.read_text())
    p = subprocess.run([CLI, "run", str(tmp_path / "in.toml"), "--set", "md.production_ps=-5"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "md.production_ps" in p.stderr and "Traceback" not in p.stderr
    assert [x.name for x in tmp_path.iterdir()] == ["in.toml"]
