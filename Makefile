# `make demo` and `make test` create the virtual environment on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch, pinned here only: a bare `torch` would pull CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[all,test,bench]"
	touch $(STAMP)

# The phi family, then the quick budgeted comparison (about 3 minutes on 2 cores).
demo: $(STAMP)
	$(BIN)/uba curve --total-steps 1000 --peak-lr 1.0 --phi 0.25 0.5 1 2 4 8 16 \
		--steps 0 250 500 750 900 999 --png docs/phi_family.png --csv docs/phi_family.csv
	$(BIN)/python benchmarks/budgeted.py --quick

test: $(STAMP)
	$(BIN)/python -m pytest

# The measured evidence of the README: overhead rows, then the full grid (about an hour).
bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/budgeted.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
