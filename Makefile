# Every target builds .venv itself, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench dashboards clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m l0.demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks dashboards
	$(BIN)/ruff format --check src tests benchmarks dashboards
	$(BIN)/mypy --strict src/l0

bench: $(STAMP)
	$(BIN)/python -m benchmarks

dashboards: $(STAMP)
	$(BIN)/python -m dashboards.build

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
