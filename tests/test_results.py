"""``as_text``: the one decoder of stored text, for what a task keeps in its ``Result`` and for what
h5py hands back from the archive (``bytes`` for a variable-length string read raw)."""

from __future__ import annotations

import numpy as np

from argyro_run._stack import h5py
from argyro_run.archive.io import read_result, write_result
from argyro_run.results import Result, as_text


def test_as_text_of_python_and_numpy_scalars():
    assert as_text("Li P S Cl") == "Li P S Cl"
    assert as_text("µ".encode()) == "µ"
    assert as_text(np.bytes_(b"abc")) == "abc"
    assert as_text(np.asarray("x y", dtype=object)) == "x y"
    assert as_text(np.asarray(b"\xc3\xa5")) == "å"
    assert as_text(np.asarray(7)) == "7"


def test_as_text_of_text_written_to_and_read_from_hdf5(tmp_path):
    r = Result()
    r.add("mtp/text", "MTP\nversion = 1.1.0\nµ", "")
    r.add("mtp/species", "Li P S Cl", "")
    with h5py.File(tmp_path / "a.h5", "w") as f:
        write_result(f.create_group("t"), r)
    with h5py.File(tmp_path / "a.h5", "r") as f:
        raw = f["t/mtp/text"][()]            # bytes, as h5py returns a variable-length string
        back = read_result(f["t"])
    assert isinstance(raw, bytes)
    assert as_text(raw) == as_text(back.get("mtp/text")) == as_text(r.get("mtp/text")) == "MTP\nversion = 1.1.0\nµ"
    assert as_text(back.get("mtp/species")).split() == ["Li", "P", "S", "Cl"]
