# Thin entry points over the project's CLI (djbench). `make` alone lists them.
PROFILE ?= article
WORKERS ?=
USERS ?=
HOLD ?=
VIEW ?= sync
VIEWS ?= sync,async
THREADS ?=
CONN_MAX_AGE ?=
DB_POOL ?=
PG_MAX_CONNECTIONS ?=
MODE ?= auto
LOCUST_WORKERS ?=
STACK ?=
DB ?=
MASTER_BIND ?=
EXPECT_WORKERS ?=
BIND ?=
ROLES ?= db,web
MASTER ?=
PROCESSES ?= 1
SERVERS ?= gunicorn,uvicorn
RUNS ?=
RESULTS ?= results
P95_SLO_MS ?=
MAX_USERS ?=
SCALE ?= none
REPEAT ?= 1
SERVER_CPUS ?=
LOCUST_CPUS ?=
FRESH_STACK ?=

PYTHON ?= python3
VENV := .venv
DJBENCH := $(VENV)/bin/djbench
# Only the options that were set reach the CLI, so the profile's defaults apply otherwise.
COMMON_OPTS := --profile $(PROFILE) --results-dir $(RESULTS) --mode $(MODE) --repeat $(REPEAT) \
	$(if $(LOCUST_WORKERS),--locust-workers $(LOCUST_WORKERS)) \
	$(if $(STACK),--stack $(STACK)) $(if $(DB),--db $(DB)) \
	$(if $(MASTER_BIND),--master-bind $(MASTER_BIND)) \
	$(if $(EXPECT_WORKERS),--expect-workers $(EXPECT_WORKERS)) \
	$(if $(WORKERS),--workers $(WORKERS)) $(if $(USERS),--users $(USERS)) \
	$(if $(HOLD),--hold $(HOLD)) $(if $(THREADS),--threads $(THREADS)) \
	$(if $(CONN_MAX_AGE),--conn-max-age $(CONN_MAX_AGE)) $(if $(DB_POOL),--db-pool $(DB_POOL)) \
	$(if $(PG_MAX_CONNECTIONS),--pg-max-connections $(PG_MAX_CONNECTIONS)) \
	$(if $(SERVER_CPUS),--server-cpus $(SERVER_CPUS)) $(if $(LOCUST_CPUS),--locust-cpus $(LOCUST_CPUS)) \
	$(if $(FRESH_STACK),--fresh-stack-per-step)
RUN_OPTS := $(COMMON_OPTS) --view $(VIEW) --scale $(SCALE)

.DEFAULT_GOAL := help
.PHONY: help bench bench-wsgi bench-asgi bench-matrix knee calibrate report test lint clean \
	stack-host load-worker

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=article|quick|smoke USERS=100,200 WORKERS=N HOLD=seconds"
	@echo "             VIEW=sync|async MODE=auto|native|compose|distributed LOCUST_WORKERS=N"
	@echo "             STACK=host:port DB=host:port MASTER_BIND=addr EXPECT_WORKERS=N (distributed)"
	@echo "             SERVERS=\"a b\" VIEWS=\"sync async\" (bench-matrix) THREADS=N"
	@echo "             CONN_MAX_AGE=seconds DB_POOL=MIN:MAX PG_MAX_CONNECTIONS=N"
	@echo "             P95_SLO_MS=ms MAX_USERS=N CONFIRM=N (knee; PROFILE=knee makes bench-* search too)"
	@echo "             SCALE=auto (steps scaled to the WSGI server's knee) REPEAT=N (interleaved)"
	@echo "             SERVER_CPUS=0 LOCUST_CPUS=1 (pin the stack and Locust apart)"
	@echo "             FRESH_STACK=1 (every step on a stack of its own)"

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

bench: $(VENV)/.installed ## gunicorn (WSGI) and uvicorn (ASGI), then the comparison report
	$(DJBENCH) bench --servers "$(SERVERS)" $(RUN_OPTS)

bench-wsgi: $(VENV)/.installed ## gunicorn (WSGI) only
	$(DJBENCH) run --server gunicorn $(RUN_OPTS)

bench-asgi: $(VENV)/.installed ## uvicorn (ASGI) only
	$(DJBENCH) run --server uvicorn $(RUN_OPTS)

bench-matrix: $(VENV)/.installed ## every server in SERVERS with every view in VIEWS, one report
	$(DJBENCH) matrix --servers "$(SERVERS)" --views "$(VIEWS)" $(COMMON_OPTS)

knee: $(VENV)/.installed ## search each server's knee (failures and p95): make knee SERVERS="gunicorn uvicorn"
	$(DJBENCH) knee --servers "$(SERVERS)" $(RUN_OPTS) \
		$(if $(P95_SLO_MS),--p95-slo-ms $(P95_SLO_MS)) $(if $(MAX_USERS),--max-users $(MAX_USERS)) \
		$(if $(CONFIRM),--confirm $(CONFIRM))

calibrate: $(VENV)/.installed ## Locust's capacity here: HttpUser vs FastHttpUser vs wrk (~2.5 min)
	$(DJBENCH) calibrate --results-dir $(RESULTS) $(if $(WORKERS),--workers $(WORKERS)) \
		$(if $(USERS),--users $(USERS))

stack-host: $(VENV)/.installed ## serve stacks to a controller on another host: make stack-host BIND=10.0.0.1
	$(DJBENCH) stack-host --bind $(BIND) --roles $(ROLES)

load-worker: $(VENV)/.installed ## Locust workers for a controller: make load-worker MASTER=10.0.0.3 PROCESSES=4
	$(DJBENCH) load-worker --master $(MASTER) --processes $(PROCESSES)

report: $(VENV)/.installed ## comparison report of existing runs: make report RUNS="results/a results/b"
	$(DJBENCH) report --results-dir $(RESULTS) $(RUNS)

test: $(VENV)/.installed ## unit tests and real-stack integration tests (smoke scale)
	$(VENV)/bin/pytest

lint: $(VENV)/.installed ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean: ## remove the virtualenv and caches (results/ is kept)
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
