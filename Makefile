# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
TOOLS := .tools
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo test lint install tools clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@

# target-jsonl pins old libraries (jsonschema 2.6), so it lives in its own venv.
$(TOOLS)/target-jsonl/bin/target-jsonl:
	$(PYTHON) -m venv $(TOOLS)/target-jsonl
	$(TOOLS)/target-jsonl/bin/pip install $(PIP_FLAGS) target-jsonl==0.1.4

install: $(VENV)/.installed

tools: $(TOOLS)/target-jsonl/bin/target-jsonl

demo: install tools
	$(VENV)/bin/python scripts/demo.py

test: install tools
	$(VENV)/bin/python -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tap_pm

clean:
	rm -rf $(VENV) $(TOOLS) .meltano output
