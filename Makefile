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

.PHONY: install manifest lint fmt test demo dev dashboard bench bench-nexthink lock clean browser bi-client screenshots \
	install-spark java test-spark spark-cluster postgres soak

# What BI drivers bundle (Metabase's and Superset's DuckDB 1.5): the published database must open
# with it. A venv of its own, used by the BI test.
BI_VENV := .venv-duckdb15
BI_STAMP := $(BI_VENV)/.installed-stamp

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; the project needs Python 3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev,dashboard]"
	touch $(STAMP)

bi-client: $(BI_STAMP)

$(BI_STAMP):
	$(PYTHON) -m venv $(BI_VENV)
	$(BI_VENV)/bin/python -m pip install --quiet "duckdb==1.5.0"
	touch $(BI_STAMP)

# Debian's chromium renders the session packs in the tests and takes the docs' screenshots.
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing chromium from Debian (headless browser for the pack tests)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null \
	    || { echo "error: could not install chromium; install Debian's chromium package" >&2; exit 1; }; }

# Debian's PostgreSQL server: the tests start their own on 127.0.0.1 (tests/postgres_server.py)
# to run Dagster's storage on, as production does; they use only its binaries. (The package
# creates its own `main` cluster, which a host with systemd starts on port 5432; a container
# does not. The tests never use it.)
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing PostgreSQL from Debian (Dagster's production storage, for the tests)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null \
	    || { echo "error: could not install PostgreSQL; install Debian's postgresql package" >&2; exit 1; }; }

# The spark dbt target: pyspark (Spark in the dbt process, local mode) and the Java 17 it runs on.
SPARK_STAMP := $(VENV)/.installed-spark-stamp

install-spark: $(SPARK_STAMP)

$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev,dashboard,spark]"
	touch $(SPARK_STAMP)

java:
	@command -v java >/dev/null || { \
	  echo "installing Java 17 from Debian (pyspark runs Spark on it)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
	    || { echo "error: pyspark needs Java 17 and none is installed; install Debian's openjdk-17-jre-headless or set JAVA_HOME" >&2; exit 1; }; }
	@java -version 2>&1 | grep -q 'version "17' || { \
	  echo "error: pyspark 3.5 needs Java 17, found: $$(java -version 2>&1 | head -1); put a Java 17 first on PATH" >&2; exit 1; }

# dagster-dbt builds the asset graph from dbt's manifest.json.
manifest: install
	cd dbt_project && $(CURDIR)/$(BIN)/dbt parse --quiet

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install manifest lint browser bi-client postgres
	$(BIN)/python -m pytest

# The pipeline on Spark, in local mode and on a cluster it starts on 127.0.0.1 (a standalone
# master, two workers, a Thrift server), every mart compared with the DuckDB build and the
# incremental runs with a full refresh (tests/spark).
test-spark: install-spark manifest java
	$(BIN)/python -m pytest tests/spark

# A Spark cluster on loopback to try the spark_thrift target on (Ctrl-C stops it); it prints
# the XMO_* variables that point the pipeline at it. Its warehouse and metastore are its own
# (local mode keeps another metastore over data/spark/warehouse).
spark-cluster: install-spark java
	$(BIN)/python -m benchmarks.spark_cluster data/spark-cluster

# A few bad rows of every kind (ragged CSV rows, a Windows-1252 survey file among them), so the
# demo shows what is quarantined and what loads; --report measures the organisation against
# DOMAIN §5 (ingestion/synthetic/realism.py).
demo: install manifest
	$(BIN)/xmo generate --bad-rows 0.001 --report
	$(BIN)/xmo run --all

dev: install manifest
	@echo "The Dagster UI on http://127.0.0.1:$${XMO_UI_PORT:-3000}; the XMO cockpit: make dashboard (another terminal)"
	$(BIN)/xmo dev

# The XMO cockpit over the published marts (of make demo, or $$XMO_DATA_DIR): port $$XMO_DASHBOARD_PORT or 8501.
dashboard: install
	$(BIN)/xmo dashboard

# The soak test's long mode: 30 days of daily operation under the daemon, with faults
# (tests/soak); `make test` runs its 8-day mode. Its report: benchmarks/soak.json.
SOAK_DAYS ?= 30
soak: install manifest postgres
	XMO_SOAK_DAYS=$(SOAK_DAYS) XMO_SOAK_REPORT=$(CURDIR)/benchmarks/soak.json \
	  $(BIN)/python -m pytest tests/soak -p no:cacheprovider

# The performance benchmark (benchmarks/run.py): S, M and L by default, e.g. `make bench SCALES=S`.
# Generated data and logs go to benchmarks/work/; results to benchmarks/results.{json,md}.
SCALES ?= S M L
# S also runs on the spark target, for information (SPARK_SCALES= leaves Spark out).
SPARK_SCALES ?= S
bench: install install-spark manifest java
	$(BIN)/python -m benchmarks.run --scales $(SCALES) --spark-scales $(SPARK_SCALES)

# The Nexthink export pull's peak memory at 20,000 and 200,000 devices, against the local
# stand-in (benchmarks/nexthink_export_memory.py): it must not grow with the estate.
bench-nexthink: install
	$(BIN)/python benchmarks/nexthink_export_memory.py

# Re-resolve the full transitive lock after changing a pin in pyproject.toml.
lock:
	rm -rf /tmp/xmo-lock-venv && $(PYTHON) -m venv /tmp/xmo-lock-venv
	/tmp/xmo-lock-venv/bin/python -m pip install --quiet --upgrade "pip==26.3"
	/tmp/xmo-lock-venv/bin/python -m pip install --quiet ".[dev,dashboard,spark]"
	{ echo "# Full transitive lock, used as pip constraints by the Makefile (pip install -c requirements.lock)."; \
	  echo "# Regenerate after changing pyproject.toml pins: make lock."; \
	  /tmp/xmo-lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^xmo-pipeline'; } > requirements.lock

# The lineage graph and pack images in docs/images, from the data of `make demo`.
screenshots: install manifest browser
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) $(BI_VENV) dbt_project/target dbt_project/logs
