# `make demo` and `make test` create the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dev dependency, pinned; `make lock` refreshes it from pyproject.toml.
LOCK := requirements/dev.txt
comma := ,
EXTRAS := all,test,bench,dev,docs

.PHONY: demo test lint typecheck docs dist check lock bench clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first (the lock pins it): a bare `torch` would pull CUDA packages.
	$(BIN)/python -m pip install --quiet -c $(LOCK) torch
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[$(EXTRAS)]"
	touch $(STAMP)

# The phi family, then the quick budgeted comparison (about 300 small training runs): about 6
# minutes from a clean checkout on 2 cores, install included (docs/getting-started.md, "Times").
demo: $(STAMP)
	$(BIN)/uba curve --total-steps 1000 --peak-lr 1.0 --phi 0.25 0.5 1 2 4 8 16 \
		--steps 0 250 500 750 900 999 --png docs/phi_family.png --csv docs/phi_family.csv
	$(BIN)/python benchmarks/budgeted.py --quick

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	# PYTHONPATH: pyright cannot follow the editable install to the sources.
	PATH=$(BIN):$$PATH PYTHONPATH=$(CURDIR) $(BIN)/python .ci/verifytypes.py

# The site, warnings as errors; it lands in site/.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

# Build the sdist and wheel, check their metadata, install the wheel into a clean
# venv with numpy at its declared floor and nothing else of ours, and run the
# sdist's own test suite there (framework tests skip: none is installed).
dist: $(STAMP)
	rm -rf dist build/dist-check
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(PYTHON) -m venv build/dist-check/venv
	build/dist-check/venv/bin/python -m pip install --quiet -c $(LOCK) dist/*.whl pytest hypothesis mpmath
	build/dist-check/venv/bin/python -m pip install --quiet "numpy==$$(sed -n 's/.*"numpy>=\([0-9.]*\)".*/\1/p' pyproject.toml).*"
	tar -xzf dist/*.tar.gz -C build/dist-check
	# Without the sources beside the tests, every import of the library is the wheel's.
	cd build/dist-check/uba_schedule-*/ && rm -r uba_core uba_torch uba_jax uba_tf \
		&& env -u UBA_REQUIRE_FRAMEWORKS ../venv/bin/python -m pytest -q -p no:cacheprovider tests

# Every gate of CI, in its order.
check: lint typecheck test docs dist

# Re-resolve the pinned dev requirements from pyproject.toml (then run `make test`).
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --upgrade --strip-extras --no-emit-index-url --no-emit-find-links \
		--unsafe-package uba-schedule $(addprefix --extra ,$(subst $(comma), ,$(EXTRAS))) \
		--output-file $(LOCK) pyproject.toml requirements/dev.in

# The measured evidence of docs/results.md: overhead rows, then the full grid (about an hour).
bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/budgeted.py
	$(BIN)/python benchmarks/selector.py
	$(BIN)/python benchmarks/selector.py --heldout
	$(BIN)/python benchmarks/selector.py --new-task
	$(BIN)/python benchmarks/selector.py --trial
	$(BIN)/python benchmarks/transfer.py

clean:
	rm -rf $(VENV) build dist site *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache
