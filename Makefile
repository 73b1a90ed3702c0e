# argyro-run developer/user entry points. `make demo` and `make test` are the two commands
# a fresh machine needs; both create the virtual environment on first use.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.argyro-installed
# tests and benchmarks also need the `foundation` extra (chgnet, sevenn: torch, ~6 GB); the demo does not
TEST_STAMP := $(VENV)/.argyro-test-installed

# First Python >= 3.12 that actually runs (pyenv shims exist for versions that are not
# selected, so `command -v` is not enough): python3.12, python3.13, then pyenv's installs.
PYTHON ?= $(shell root=$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv); \
	for p in python3.12 python3.13 $$(ls -d $$root/versions/3.1[2-9]* 2>/dev/null | sort -V | sed 's|$$|/bin/python3|'); do \
	  $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo $$p; exit 0; }; done)

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: need Python >= 3.12 (python3.12, python3.13 or pyenv's)"; exit 2; fi
	@echo "Using $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	$(VENV)/bin/argyro-run mtp lammps-plugin >/dev/null 2>&1 || true
	@touch $(STAMP)

# where `make demo` writes its results (never into inputs/, which holds the templates)
DEMO_OUT ?= runs/quickstart

demo: setup
	$(VENV)/bin/mpiexec -n 2 $(VENV)/bin/argyro-run inputs/quickstart.toml --outdir $(DEMO_OUT)
	$(VENV)/bin/argyro-run report $(DEMO_OUT)/quickstart.h5 -o $(DEMO_OUT)/report
	@echo "demo results in $(DEMO_OUT)/: quickstart.h5 (archive), report/ (figures, summary.md), quickstart-work/ (task files)"

$(TEST_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,bench,foundation]'
	@touch $(TEST_STAMP)

test: $(TEST_STAMP)
	$(PY) -m pytest -q tests

# the self-contained speed/cost benchmarks (docs/benchmarks.md); the others need a run's archive or
# arguments (barrier_check, learning_check, reference_accuracy, validation_summary: see their docstrings)
BENCHES := fe_speed fe_interface md_cost analysis_cost mtp_speed mtp_grade_cost train_speed references local_learning neighbour_pairs

bench: $(TEST_STAMP)
	@for b in $(BENCHES); do echo "== benchmarks/$$b.py"; $(PY) benchmarks/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info $(DEMO_OUT)
	@rmdir runs 2>/dev/null || true
