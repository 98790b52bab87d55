# Every target builds its environment itself, so a fresh clone with only python3 needs
# just `make demo` or `make test`: uv is bootstrapped into .tools/ from the package index,
# and the environment is installed from the committed uv.lock.
#
# DEPS picks the dependency set (CI runs all three; see .ci/run):
#   lock     uv.lock, the newest of everything (default, in .venv)
#   openai2  a fresh resolution with openai 2.x (in .venv-openai2)
#   lowest   the lowest version of every declared range (in .venv-lowest)
PYTHON ?= python3
DEPS ?= lock
VENV ?= $(if $(filter lock,$(DEPS)),.venv,.venv-$(DEPS))
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(DEPS)
UV_VERSION := 0.13.9
UV ?= .tools/uv-$(UV_VERSION)/bin/uv
EXTRAS := openai,litellm,otel,prometheus,sentry

# uv uses this machine's python3 and never downloads an interpreter.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test lint bench dashboards slo clean

.tools/uv-$(UV_VERSION)/bin/uv:
	$(PYTHON) -m venv .tools/uv-$(UV_VERSION)
	.tools/uv-$(UV_VERSION)/bin/pip install --quiet uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
ifeq ($(DEPS),lock)
	$(UV) sync --locked --all-extras --python $(PYTHON)
else ifeq ($(DEPS),openai2)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --python $(VENV) -e '.[$(EXTRAS)]' --group dev 'openai>=2.20,<3'
else ifeq ($(DEPS),lowest)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --python $(VENV) --resolution lowest-direct -e '.[$(EXTRAS)]' --group dev
else
	$(error DEPS must be lock, openai2 or lowest, got '$(DEPS)')
endif
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m l0.demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks dashboards slo
	$(BIN)/ruff format --check src tests benchmarks dashboards slo
	$(BIN)/mypy --strict src/l0

bench: $(STAMP)
	$(BIN)/python -m benchmarks

dashboards: $(STAMP)
	$(BIN)/python -m dashboards.build

slo: $(STAMP)
	$(BIN)/python -m slo.build

clean:
	rm -rf .venv .venv-* .tools dist .pytest_cache .mypy_cache .ruff_cache
