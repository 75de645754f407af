# Thin entry points over the project's CLI (djbench). `make` alone lists them.
PROFILE ?= article
WORKERS ?=
USERS ?=
HOLD ?=
WARMUP ?=
VIEW ?= sync
VIEWS ?= sync,async
THREADS ?=
CONN_MAX_AGE ?=
DB_POOL ?=
PG_MAX_CONNECTIONS ?=
MODE ?= auto
LOCUST_WORKERS ?=
STACK ?=
LOAD_HOSTS ?=
LOAD_PROCESSES ?=
SERVERS ?= gunicorn,uvicorn
RUNS ?=
RESULTS ?= results
P95_SLO_MS ?=
MAX_USERS ?=
CONFIRM ?=
SCALE ?= none
REPEAT ?= 1
SERVER_CPUS ?=
LOCUST_CPUS ?=
FRESH_STACK ?=
LOAD_MODEL ?=
RATES ?=
PACING ?=
PROJECT ?=
SETTINGS ?=
REQUIREMENTS ?=
APP_PYTHON ?=
SEED ?=
DUMP ?=
LOCUSTFILE ?=
URLS ?=
DJANGO ?=
ASGIREF ?=
DJANGOS ?=
RELEASES ?=

PYTHON ?= python3
VENV := .venv
DJBENCH := $(VENV)/bin/djbench
# A value as one shell word, whatever it holds (paths with spaces, a seed command).
q = '$(subst ','\'',$(1))'
# The project under test, when it is not the built-in polls project.
PROJECT_VARS := PROJECT SETTINGS REQUIREMENTS APP_PYTHON SEED DUMP LOCUSTFILE URLS DJANGO ASGIREF \
	RELEASES
# STACK=2020 (a year, not a host) is RELEASES=2020: the article's own stack.
STACK_YEAR := $(if $(STACK),$(shell case $(call q,$(STACK)) in ([0-9][0-9][0-9][0-9]) \
	printf '%s' $(call q,$(STACK));; esac))
override RELEASES := $(or $(RELEASES),$(STACK_YEAR))
override STACK := $(if $(STACK_YEAR),,$(STACK))
PROJECT_OPTS := $(if $(PROJECT),--project $(call q,$(PROJECT))) \
	$(if $(SETTINGS),--settings $(call q,$(SETTINGS))) \
	$(if $(REQUIREMENTS),--requirements $(call q,$(REQUIREMENTS))) \
	$(if $(APP_PYTHON),--app-python $(call q,$(APP_PYTHON))) \
	$(if $(SEED),--seed $(call q,$(SEED))) $(if $(DUMP),--dump $(call q,$(DUMP))) \
	$(if $(LOCUSTFILE),--locustfile $(call q,$(LOCUSTFILE))) $(if $(URLS),--urls $(call q,$(URLS))) \
	$(if $(DJANGO),--django $(call q,$(DJANGO))) $(if $(ASGIREF),--asgiref $(call q,$(ASGIREF))) \
	$(if $(RELEASES),--releases $(call q,$(RELEASES)))
# Only the options that were set reach the CLI, so the profile's defaults apply otherwise; the
# CLI refuses those that a command cannot use (knee options without a knee search, THREADS
# without a threaded server...).
STACK_OPTS := --results-dir $(call q,$(RESULTS)) $(PROJECT_OPTS) \
	$(if $(WORKERS),--workers $(WORKERS)) $(if $(THREADS),--threads $(THREADS)) \
	$(if $(CONN_MAX_AGE),--conn-max-age $(CONN_MAX_AGE)) $(if $(DB_POOL),--db-pool $(DB_POOL)) \
	$(if $(PG_MAX_CONNECTIONS),--pg-max-connections $(PG_MAX_CONNECTIONS)) \
	$(if $(SERVER_CPUS),--server-cpus $(SERVER_CPUS)) $(if $(LOCUST_CPUS),--locust-cpus $(LOCUST_CPUS))
KNEE_OPTS := $(if $(P95_SLO_MS),--p95-slo-ms $(P95_SLO_MS)) \
	$(if $(MAX_USERS),--max-users $(MAX_USERS)) $(if $(CONFIRM),--confirm $(CONFIRM)) \
	$(if $(WARM_STACK),$(if $(filter 0,$(WARM_STACK)),--no-warm-stack,--warm-stack))
MODE_OPTS := --mode $(MODE) --install-missing \
	$(if $(LOCUST_WORKERS),--locust-workers $(LOCUST_WORKERS)) \
	$(if $(STACK),--stack $(call q,$(STACK))) \
	$(if $(LOAD_HOSTS),--load-hosts $(call q,$(LOAD_HOSTS))) \
	$(if $(LOAD_PROCESSES),--load-processes $(LOAD_PROCESSES))
COMMON_OPTS := $(STACK_OPTS) $(KNEE_OPTS) $(MODE_OPTS) --repeat $(REPEAT) \
	$(if $(USERS),--users $(USERS)) $(if $(HOLD),--hold $(HOLD)) \
	$(if $(WARMUP),--warmup $(WARMUP)) \
	$(if $(FRESH_STACK),--fresh-stack-per-step) \
	$(if $(LOAD_MODEL),--load-model $(LOAD_MODEL)) $(if $(RATES),--rates $(RATES)) \
	$(if $(PACING),--pacing $(PACING))
RUN_OPTS := $(COMMON_OPTS) --profile $(PROFILE) --view $(VIEW) --scale $(SCALE)

# A variable given (command line or environment) to a target that cannot use it stops the
# target with one line, instead of being dropped without a word:
# $(call refuse,VARIABLES) as a recipe's first line.
given = $(firstword $(foreach v,$(1),$(if $(filter command environment,$(origin $(v))),$(v))))
refuse = $(if $(call given,$(1)),@echo 'djbench: error: make $@ does not use \
	$(call given,$(1)): $(or $(why_$@),$(why_$(call given,$(1))))' >&2; exit 2)
why_SERVERS := it runs its own server; make bench SERVERS="..." runs others
why_VIEW := bench-matrix runs every view in VIEWS
why_VIEWS := VIEWS is for bench-matrix; VIEW=async chooses the view elsewhere
why_DJANGOS := DJANGOS is for bench-matrix; DJANGO=3.0 chooses the version elsewhere
why_RUNS := RUNS is for make report
why_PROFILE := a knee search or calibration chooses its own steps
why_SCALE := SCALE=auto scales the steps of make bench, bench-wsgi, bench-asgi, bench-matrix
why_REPEAT := calibrate measures each client once
why_FRESH_STACK := calibrate starts a stack for each client already
why_LOAD_MODEL := calibrate drives each client closed-loop with no wait
why_RATES := $(why_LOAD_MODEL)
why_PACING := $(why_LOAD_MODEL)
why_P95_SLO_MS := knee variables are for knee searches
why_MAX_USERS := $(why_P95_SLO_MS)
why_CONFIRM := $(why_P95_SLO_MS)
why_WARM_STACK := $(why_P95_SLO_MS)
why_report := it only reads existing runs
RUN_VARS := PROFILE WORKERS USERS HOLD WARMUP VIEW THREADS CONN_MAX_AGE DB_POOL PG_MAX_CONNECTIONS \
	MODE LOCUST_WORKERS SERVER_CPUS LOCUST_CPUS SCALE REPEAT P95_SLO_MS MAX_USERS CONFIRM WARM_STACK SERVERS \
	VIEWS DJANGOS STACK LOAD_HOSTS LOAD_PROCESSES FRESH_STACK \
	LOAD_MODEL RATES PACING \
	$(PROJECT_VARS)

.DEFAULT_GOAL := help
.PHONY: help bench bench-wsgi bench-asgi bench-matrix knee calibrate report test lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=article|quick|smoke USERS=100,200 WORKERS=N HOLD=seconds"
	@echo "             WARMUP=seconds (discarded after each ramp-up; knee probes: 0, MSER-5 decides)"
	@echo "             VIEW=sync|async MODE=auto|native|compose|distributed LOCUST_WORKERS=N"
	@echo "             STACK=ssh://host LOAD_HOSTS=\"ssh://a ssh://b\" LOAD_PROCESSES=N (distributed)"
	@echo "             SERVERS=\"a b\" VIEWS=\"sync async\" (bench-matrix) THREADS=N"
	@echo "             CONN_MAX_AGE=seconds DB_POOL=MIN:MAX PG_MAX_CONNECTIONS=N"
	@echo "             P95_SLO_MS=ms MAX_USERS=N CONFIRM=N (knee; PROFILE=knee makes bench-* search too)"
	@echo "             WARM_STACK=0 (knee: a stack per probe; natively they share one by default)"
	@echo "             SCALE=auto (steps scaled to the WSGI server's knee) REPEAT=N (interleaved)"
	@echo "             SERVER_CPUS=0 LOCUST_CPUS=1 (pin the stack and Locust apart)"
	@echo "             FRESH_STACK=1 (every step on a stack of its own)"
	@echo "             LOAD_MODEL=closed|open RATES=5,10 (iterations/s) PACING=s (open model)"
	@echo "             PROJECT=dir (your Django project) SETTINGS=module REQUIREMENTS=file"
	@echo "             APP_PYTHON=venv/bin/python SEED=\"command args\" DUMP=file"
	@echo "             LOCUSTFILE=file URLS=file (the scenario; default: pages found on the site)"
	@echo "             DJANGO=3.0 ASGIREF=3.2.10 (another Django or asgiref, in an environment of"
	@echo "             its own) DJANGOS=\"3.0 4.2 5.2\" (bench-matrix: every version side by side)"
	@echo "             RELEASES=2020 or STACK=2020 (the article's Django, asgiref and servers)"
	@echo "  calibrate takes SERVERS=one USERS=N HOLD WARMUP and the stack's variables (WORKERS, VIEW, MODE...)"
	@echo "  a variable that a target cannot use stops it with one line"

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

bench: $(VENV)/.installed ## gunicorn (WSGI) and uvicorn (ASGI), then the comparison report
	$(call refuse,VIEWS DJANGOS RUNS)
	$(DJBENCH) bench --servers "$(SERVERS)" $(RUN_OPTS)

bench-wsgi: $(VENV)/.installed ## gunicorn (WSGI) only
	$(call refuse,SERVERS VIEWS DJANGOS RUNS)
	$(DJBENCH) run --server gunicorn $(RUN_OPTS)

bench-asgi: $(VENV)/.installed ## uvicorn (ASGI) only
	$(call refuse,SERVERS VIEWS DJANGOS RUNS)
	$(DJBENCH) run --server uvicorn $(RUN_OPTS)

bench-matrix: $(VENV)/.installed ## every server in SERVERS with every view in VIEWS, one report
	$(call refuse,VIEW RUNS)
	$(DJBENCH) matrix --servers "$(SERVERS)" --views "$(VIEWS)" $(COMMON_OPTS) \
		$(if $(DJANGOS),--djangos $(call q,$(DJANGOS))) \
		--profile $(PROFILE) --scale $(SCALE)

knee: $(VENV)/.installed ## search each server's knee (failures and p95): make knee SERVERS="gunicorn uvicorn"
	$(call refuse,PROFILE SCALE VIEWS DJANGOS RUNS)
	$(DJBENCH) knee --servers "$(SERVERS)" $(COMMON_OPTS) --view $(VIEW)

calibrate: $(VENV)/.installed ## Locust's capacity here: HttpUser vs FastHttpUser vs wrk (~2.5 min)
	$(call refuse,PROFILE SCALE REPEAT FRESH_STACK P95_SLO_MS MAX_USERS CONFIRM WARM_STACK VIEWS \
		DJANGOS RUNS \
		LOAD_MODEL RATES PACING)
	$(DJBENCH) calibrate $(STACK_OPTS) $(MODE_OPTS) --view $(VIEW) \
		$(if $(call given,SERVERS),--server "$(SERVERS)") \
		$(if $(USERS),--users $(USERS)) $(if $(HOLD),--hold $(HOLD)) \
		$(if $(WARMUP),--warmup $(WARMUP))

report: $(VENV)/.installed ## comparison report of existing runs: make report RUNS="results/a results/b"
	$(call refuse,$(RUN_VARS))
	$(DJBENCH) report --results-dir $(call q,$(RESULTS)) $(RUNS)

test: $(VENV)/.installed ## unit tests and real-stack integration tests (smoke scale)
	$(DJBENCH) setup --for test
	$(VENV)/bin/pytest

lint: $(VENV)/.installed ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean: ## remove the virtualenv and caches (results/ is kept)
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
