"""CLI verbs validate / schema / init / plan (through argyro_run.cli.main, in-process) and run's --outdir."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from argyro_run.archive import open_archive
from argyro_run.cli import main
from argyro_run.config import json_schema, load_config
from argyro_run.templates import template_text
from tests._support.env import CLI

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
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    capsys.readouterr()
    assert main(["validate", str(empty)]) == 2
    out, err = capsys.readouterr()
    assert "valid" not in out and "asks for no work" in err and "[[materials]]" in err


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


def test_plan_verb_text_and_json(tmp_path, capsys):
    # a copy: results a user made beside inputs/quickstart.toml must not change what is tested
    inp = tmp_path / "quickstart.toml"
    inp.write_text(template_text("quickstart"))
    assert main(["plan", str(inp)]) == 0
    text = capsys.readouterr().out
    assert "md/LPSCl/disordered/T600" in text and "[dyn]" in text and "[done]" not in text
    assert main(["plan", "--json", str(inp)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert any(t["kind"] == "active_learning" and t["dynamic"] for t in data["tasks"])
    assert not any(t.get("done") for t in data["tasks"])


RUN_FE = """
[run]
name = "outdir"
archive = "res.h5"
workdir = "scratch"
seed = 3
[microstructure]
kind = "laminate"
grain_sizes_nm = [10.0]
n_grains = 2
dimension = 2
lloyd_iterations = 0
mesh_size_fraction = 0.25
[fe]
temperatures_K = [300.0]
bulk = { D0_m2_per_s = 1e-7, Ea_eV = 0.35 }
gb_parallel = { D0_m2_per_s = 1e-8, Ea_eV = 0.2 }
gb_perpendicular = { D0_m2_per_s = 1e-8, Ea_eV = 0.2 }
"""


def test_outdir_puts_archive_and_workdir_there(tmp_path):
    """``run -o DIR``: relative run.archive and run.workdir go under DIR (created), nothing is
    written beside the input; ``plan -o DIR`` then finds the done tasks there; a DIR that is a file
    is a user error (exit 2) that changes nothing."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    inp = inputs / "in.toml"
    inp.write_text(RUN_FE)
    out = tmp_path / "runs" / "one"
    cli = CLI
    p = subprocess.run([cli, str(inp), "-o", str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert sorted(x.name for x in inputs.iterdir()) == ["in.toml"]
    assert (out / "res.h5").is_file() and (out / "scratch").is_dir()
    assert str(out / "res.h5") in p.stdout
    assert set(open_archive(out / "res.h5").tasks) >= {"fe/explicit", "microstructure/laminate"}
    p = subprocess.run([cli, "plan", "--json", str(inp), "--outdir", str(out)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and all(t["done"] for t in json.loads(p.stdout)["tasks"])
    p = subprocess.run([cli, "plan", "--json", str(inp)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and not any(t.get("done") for t in json.loads(p.stdout)["tasks"])
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    p = subprocess.run([cli, "run", str(inp), "--outdir", str(blocker)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--outdir" in p.stderr and "Traceback" not in p.stderr
    assert blocker.read_text() == "keep" and sorted(x.name for x in inputs.iterdir()) == ["in.toml"]


def test_outdir_moves_outputs_only(tmp_path):
    """Input files named in the input stay relative to the input file; outputs follow --outdir;
    absolute output paths are used as given."""
    # a real structure: materials are read at validation (issue 20)
    (tmp_path / "s.cif").write_bytes((REPO / "argyro_run" / "templates" / "example_Li6PS5Cl.cif").read_bytes())
    inp = tmp_path / "in.toml"
    inp.write_text('[run]\narchive = "a.h5"\n[[materials]]\nname = "L"\nstructure_file = "s.cif"\n')
    cfg = load_config(inp, output_dir=tmp_path / "out")
    assert cfg.resolve("s.cif") == tmp_path.resolve() / "s.cif"
    assert cfg.resolve_output(cfg.run.archive) == tmp_path.resolve() / "out" / "a.h5"
    assert cfg.resolve_output(str(tmp_path / "abs.h5")) == tmp_path / "abs.h5"
    assert load_config(inp).resolve_output("a.h5") == tmp_path.resolve() / "a.h5"
    assert not (tmp_path / "out").exists()      # validation creates nothing


def test_plan_into_a_closed_pipe_is_quiet(monkeypatch):
    """`argyro-run plan x.toml | head -1`: the reader has left; no traceback, exit 0 (stdout is a
    pipe whose read end is closed, so the first write fails with EPIPE)."""
    import os
    import sys

    r, w = os.pipe()
    os.close(r)
    out = os.fdopen(w, "w", buffering=1)      # line buffered: the first line is written, and fails
    monkeypatch.setattr(sys, "stdout", out)
    inp = Path(__file__).resolve().parents[2] / "inputs" / "validation-LPSI.toml"
    try:
        assert main(["plan", str(inp)]) == 0
    finally:
        monkeypatch.undo()
        try:
            out.close()
        except OSError:
            pass
