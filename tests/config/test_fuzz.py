"""Property tests: any document gives a Config or a UserError, never another exception."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argyro_run.config import Config, config_from_dict, config_from_text
from argyro_run.errors import UserError

TEMPLATE = (Path(__file__).resolve().parents[2] / "argyro_run" / "templates" / "quickstart.toml").read_text()
KEYS = ["run", "materials", "md", "fe", "potential", "level", "name", "seed", "temperatures_K",
        "grain_boundaries", "sigma", "levels", "active_learning", "bulk", "Ea_eV", "x"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=8), st.binary(max_size=4))
values = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=3),
                                                   st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), c, max_size=4)),
                      max_leaves=20)


def outcome(fn, arg):
    try:
        return fn(arg)
    except UserError as exc:
        assert all(isinstance(p, str) and "\n" not in p for p in exc.problems)
        return exc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=5))
def test_random_documents(doc):
    assert isinstance(outcome(config_from_dict, doc), (Config, UserError))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text(text):
    assert isinstance(outcome(config_from_text, text), (Config, UserError))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(TEMPLATE) - 1), st.integers(1, 20), st.text(max_size=6))
def test_mutated_template(pos, cut, insert):
    text = TEMPLATE[:pos] + insert + TEMPLATE[pos + cut:]
    assert isinstance(outcome(config_from_text, text), (Config, UserError))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["run", "potential", "md", "reference", "parallel", "active_learning"]),
       st.sampled_from(KEYS + ["seed", "timestep_fs", "ranks_per_md", "level", "enabled"]), scalars)
def test_template_with_replaced_value(section, key, value):
    doc = tomllib.loads(TEMPLATE)
    doc.setdefault(section, {})[key] = value
    assert isinstance(outcome(config_from_dict, doc), (Config, UserError))
