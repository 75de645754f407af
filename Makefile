# Thin entry points over the project's CLI (djbench). `make` alone lists them.
PROFILE ?= article
WORKERS ?=
USERS ?=
HOLD ?=
VIEW ?= sync
SERVERS ?= gunicorn,uvicorn
RUNS ?=
RESULTS ?= results

PYTHON ?= python3
VENV := .venv
DJBENCH := $(VENV)/bin/djbench
# Only the options that were set reach the CLI, so the profile's defaults apply otherwise.
RUN_OPTS := --profile $(PROFILE) --view $(VIEW) --results-dir $(RESULTS) \
	$(if $(WORKERS),--workers $(WORKERS)) $(if $(USERS),--users $(USERS)) \
	$(if $(HOLD),--hold $(HOLD))

.DEFAULT_GOAL := help
.PHONY: help bench bench-wsgi bench-asgi report test lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=article|quick|smoke USERS=100,200 WORKERS=N HOLD=seconds VIEW=sync|async"

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

bench: $(VENV)/.installed ## gunicorn (WSGI) and uvicorn (ASGI), then the comparison report
	$(DJBENCH) bench --servers $(SERVERS) $(RUN_OPTS)

bench-wsgi: $(VENV)/.installed ## gunicorn (WSGI) only
	$(DJBENCH) run --server gunicorn $(RUN_OPTS)

bench-asgi: $(VENV)/.installed ## uvicorn (ASGI) only
	$(DJBENCH) run --server uvicorn $(RUN_OPTS)

report: $(VENV)/.installed ## comparison report of existing runs: make report RUNS="results/a results/b"
	$(DJBENCH) report --results-dir $(RESULTS) $(RUNS)

test: $(VENV)/.installed ## unit tests and real-stack integration tests (smoke scale)
	$(VENV)/bin/pytest

lint: $(VENV)/.installed ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean: ## remove the virtualenv and caches (results/ is kept)
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
