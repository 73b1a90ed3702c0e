"""CLI verbs validate / schema / init (through argyro_run.cli.main, in-process)."""

from __future__ import annotations

import json
from pathlib import Path

from argyro_run.cli import main
from argyro_run.config import json_schema
from argyro_run.templates import template_text

REPO = Path(__file__).resolve().parents[2]


def test_schema_file_equals_printed_schema(capsys):
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == (REPO / "schemas" / "argyro-run.schema.json").read_text()
    schema = json.loads(printed)
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"run", "materials", "reference", "potential", "active_learning",
                                         "md", "analysis", "microstructure", "fe", "parallel", "slurm"}


def test_schema_describes_every_field():
    schema = json_schema()
    missing = [f"{name}.{k}" for name, d in schema["$defs"].items() for k, v in d.get("properties", {}).items()
               if "description" not in v]
    assert missing == []


def test_validate_exit_codes(tmp_path, capsys):
    assert main(["validate", str(REPO / "inputs" / "quickstart.toml")]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[md]\ntimestep_fs = -1\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "md.timestep_fs (line 2)" in err and "Traceback" not in err
    assert main(["validate", str(tmp_path)]) == 2


def test_init_writes_lists_and_refuses_overwrite(tmp_path, capsys):
    out = tmp_path / "q.toml"
    assert main(["init", "quickstart", "-o", str(out)]) == 0
    written = out.read_text()
    assert written.startswith("# Editor completion") and "#:schema" not in written.splitlines()[0]
    assert written.splitlines()[2:] == template_text("quickstart").splitlines()[1:]
    assert main(["validate", str(out)]) == 0
    out.write_text("mine")
    assert main(["init", "quickstart", "-o", str(out)]) == 2
    assert out.read_text() == "mine"
    assert main(["init", "no-such-template", "-o", str(tmp_path / "x.toml")]) == 2
    assert not (tmp_path / "x.toml").exists()
    capsys.readouterr()
    assert main(["init", "--list"]) == 0
    assert "quickstart" in capsys.readouterr().out.split()


def test_plan_verb_text_and_json(capsys):
    assert main(["plan", str(REPO / "inputs" / "quickstart.toml")]) == 0
    text = capsys.readouterr().out
    assert "md/LPSCl/ordered/T600" in text and "[dyn]" in text
    assert main(["plan", "--json", str(REPO / "inputs" / "quickstart.toml")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert any(t["kind"] == "active_learning" and t["dynamic"] for t in data["tasks"])
