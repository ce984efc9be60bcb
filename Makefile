# One venv, installed from pinned versions; every target below runs inside it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(CURDIR)/$(BIN):$(PATH)
# dbt-duckdb and dagster-dbt read the profile from the project folder.
export DBT_PROFILES_DIR := $(CURDIR)/dbt_project
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false

.PHONY: install manifest lint fmt test demo dev lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; the project needs Python 3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

# dagster-dbt builds the asset graph from dbt's manifest.json.
manifest: install
	cd dbt_project && $(CURDIR)/$(BIN)/dbt parse --quiet

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install manifest lint
	$(BIN)/python -m pytest

demo: install manifest
	$(BIN)/xmo generate
	$(BIN)/xmo run --all

dev: install manifest
	$(BIN)/xmo dev

# Re-resolve the full transitive lock after changing a pin in pyproject.toml.
lock:
	rm -rf /tmp/xmo-lock-venv && $(PYTHON) -m venv /tmp/xmo-lock-venv
	/tmp/xmo-lock-venv/bin/python -m pip install --quiet --upgrade "pip==26.3"
	/tmp/xmo-lock-venv/bin/python -m pip install --quiet ".[dev]"
	{ echo "# Full transitive lock, used as pip constraints by the Makefile (pip install -c requirements.lock)."; \
	  echo "# Regenerate after changing pyproject.toml pins: make lock."; \
	  /tmp/xmo-lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^xmo-pipeline'; } > requirements.lock

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs
