# Every target works from a fresh clone: `make run` and `make test` install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
SAMPLE_DATA := data/feature_metadata.json
LINTED := src tests migrations bench examples clients/python gunicorn.conf.py wsgi.py
# The Python client (clients/python): installed into .venv beside the service, for its tests.
CLIENT := clients/python
export DATABASE_URL ?= sqlite:///$(CURDIR)/data/feature_gateway.db

.PHONY: install migrate import-sample port-free run reset test test-fast test-fuzz test-browser \
	test-deploy feast-venv soak bench bench-quick bench-values bench-serving bench-auth bench-webhooks bench-idempotency bench-keyed openapi \
	client lint security format clean webhooks testing-system oidc-provider

# The shared install step, safe to run twice at once (`make run` in one shell, `make test` in
# another, on a fresh clone): one install at a time, under a lock (fcntl, through python3,
# which every machine that runs this has); whoever waited finds the work done ($(INSTALLED):
# a complete install, newer than setup.cfg and both pyproject.toml files) and does nothing.
INSTALLED := $(VENV)/.installed
LOCKED = $(PYTHON) -c 'import fcntl, subprocess, sys; lock = open(sys.argv[1], "a"); \
	fcntl.flock(lock, fcntl.LOCK_EX); sys.exit(subprocess.call(sys.argv[2:]))' $(VENV).lock

$(BIN)/activate: setup.cfg pyproject.toml $(CLIENT)/pyproject.toml
	@$(LOCKED) sh -c 'if [ $(INSTALLED) -nt setup.cfg ] && [ $(INSTALLED) -nt pyproject.toml ] \
			&& [ $(INSTALLED) -nt $(CLIENT)/pyproject.toml ]; then \
			echo "$(VENV) is installed (by another make meanwhile)"; exit 0; fi; \
		set -ex; \
		$(PYTHON) -m venv $(VENV); \
		$(BIN)/pip install --quiet --upgrade pip; \
		$(BIN)/pip install --quiet -e ".[test]"; \
		$(BIN)/pip install --quiet -e ./$(CLIENT); \
		touch $(INSTALLED) $(BIN)/activate'

install: $(BIN)/activate

# The one-shot migration step; never run by the workers themselves.
migrate: install
	mkdir -p data
	$(BIN)/alembic upgrade head

# Names already stored are skipped, so the sample data is imported once however often this runs.
import-sample: migrate
	@if [ -f $(SAMPLE_DATA) ]; then \
		$(BIN)/feature-gateway import-features $(SAMPLE_DATA); \
	else \
		echo "no $(SAMPLE_DATA): starting with an empty database"; \
	fi

# Checked before the slow steps: gunicorn alone would retry for 5 s and name no way out.
port-free:
	@$(PYTHON) -c 'import socket, sys; socket.create_server(("0.0.0.0", int(sys.argv[1])))' "$(PORT)" 2>/dev/null \
		|| { echo "Port $(PORT) is already in use (another make run?). Stop that server, or pick another port: make run PORT=$$(($(PORT) + 1))" >&2; exit 1; }

# In token mode without a SECRET_KEY, a key for this run (console sessions end when it stops;
# a deployment sets its own, docs/deployment.md). Then where to go, and gunicorn.
run: port-free import-sample
	@if [ "$$AUTH_MODE" = token ] && [ -z "$$SECRET_KEY" ]; then \
		echo "AUTH_MODE=token without SECRET_KEY: the console signs its sessions with a key of this run (set SECRET_KEY to keep them across restarts)"; \
		SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(32))'); \
		export SECRET_KEY; \
	fi; \
	printf '%s\n' "Serving on http://localhost:$(PORT)/ until Ctrl-C:" \
		"  review console   http://localhost:$(PORT)/console/" \
		"  API, Swagger UI  http://localhost:$(PORT)/docs" \
		"  health           http://localhost:$(PORT)/health"; \
	GUNICORN_BIND=0.0.0.0:$(PORT) exec $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# The webhook delivery worker beside `make run` (another terminal), until Ctrl-C; see
# docs/webhooks.md. WEBHOOK_ALLOW_LOOPBACK=true for receivers on this machine.
webhooks: migrate
	$(BIN)/feature-gateway webhooks deliver

# The reference external testing system (examples/testing_system.py) beside `make run`:
# follows the event feed and records test results; needs a token (TESTING_SYSTEM_TOKEN).
testing-system: install
	$(BIN)/python examples/testing_system.py --url http://127.0.0.1:$(PORT)

# A real OpenID provider to try the console's single sign-on with, until Ctrl-C: the test
# suite's oidc-provider-mock (any client id and secret; a login form where you type who you
# are), at http://localhost:$(OIDC_PORT). docs/identity.md, "The console's single sign-on".
OIDC_PORT ?= 9400
oidc-provider: install
	$(BIN)/python -m oidc_provider_mock --host 127.0.0.1 --port $(OIDC_PORT) \
		--user-claims '{"sub": "alice", "preferred_username": "alice", "groups": ["ml-approvers"]}' \
		--user-claims '{"sub": "dev", "preferred_username": "dev", "groups": ["ml-developers"]}'

# Deletes the local SQLite database DATABASE_URL names (a file under data/, by default
# data/feature_gateway.db) and nothing else (.venv stays): the next `make run` migrates a
# fresh one and imports the sample data again. Any other DATABASE_URL (PostgreSQL, a file
# elsewhere): nothing is deleted, and it says so.
reset:
	@case "$$DATABASE_URL" in \
		sqlite:///$(CURDIR)/data/*) \
			database="$${DATABASE_URL#sqlite:///}"; \
			rm -f "$$database" "$$database-wal" "$$database-shm" "$$database-journal"; \
			echo "deleted $$database";; \
		*) echo "DATABASE_URL does not name a SQLite file under data/: nothing was deleted, that database was left as it is (to back it up or start again, see docs/operations.md)." >&2;; \
	esac

test: install
	$(BIN)/python -m pytest

# Everything but the Schemathesis fuzzing (about half the time).
test-fast: install
	$(BIN)/python -m pytest -m "not fuzz"

test-fuzz: install
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-100} $(BIN)/python -m pytest -m fuzz tests/contract

# Swagger UI and the review console in headless Chromium (apt-get install chromium
# chromium-driver); screenshots in artifacts/.
test-browser: install
	$(BIN)/python -m pytest -n 0 -m browser tests/browser

# The SPEC §6 figures; needs wrk (apt-get install wrk). See docs/performance.md.
bench: install
	$(BIN)/python -m bench.core
	$(BIN)/python -m bench.cold_start

bench-quick: install
	$(BIN)/python -m bench.core --quick
	$(BIN)/python -m bench.cold_start --runs 3

# POST /features in detail: in-process build and serialise times, three request shapes.
bench-values: install
	$(BIN)/python bench/feature_values.py

# Both serving endpoints (POST /features, POST /get-online-features), with and without read
# counting, beside the bare app (docs/performance.md, "Serving"); needs wrk.
bench-serving: install
	$(BIN)/python -m bench.serving

# What token mode costs per request (read by name, create), trust vs token; needs wrk.
bench-auth: install
	$(BIN)/python -m bench.auth

# Event feed and webhook figures (docs/performance.md, "Events and webhooks").
bench-webhooks: install
	$(BIN)/python -m bench.webhooks

# What an Idempotency-Key costs: create with and without a key, and a replay (SQLite; add
# ARGS="--postgres postgresql+psycopg://postgres@127.0.0.1:5432/<empty db>" for PostgreSQL).
bench-idempotency: install
	$(BIN)/python -m bench.idempotency $(ARGS)

# What a key adds to a create in the same load as the create (creates and keyed creates by
# turns, each worker's CPU counted by kind), beside bench.core's all-keyed ratio: issue 26's
# keyed <= 1.3 goal (docs/performance.md, "i32-keyed"); needs wrk.
bench-keyed: install
	$(BIN)/python -m bench.keyed_mixed $(ARGS)

# Feast's own client, in a virtualenv of its own (heavy; never a dependency of the service),
# for the test that reads values through it (tests/docs/test_feast_client.py, which runs
# this target when the virtualenv is missing). The stamp names the version: a new pin
# installs again.
FEAST_VERSION ?= 0.67.0
FEAST_VENV ?= .feast-venv
$(FEAST_VENV)/.feast-$(FEAST_VERSION):
	$(PYTHON) -m venv $(FEAST_VENV)
	$(FEAST_VENV)/bin/pip install --quiet --upgrade pip
	$(FEAST_VENV)/bin/pip install --quiet "feast==$(FEAST_VERSION)"
	touch $@

feast-venv: $(FEAST_VENV)/.feast-$(FEAST_VERSION)

openapi: install
	$(BIN)/feature-gateway openapi -o openapi.json

# Regenerates the Python client's models and methods from the OpenAPI document (after an API
# change; tests/client/test_generated.py fails until this is run). See docs/client.md.
client: install
	$(BIN)/python $(CLIENT)/codegen/generate.py

# nginx → gunicorn → PostgreSQL, and the PostgreSQL-restart test (needs nginx and the
# PostgreSQL server binaries; see docs/development.md, "Deployment tests").
test-deploy: install
	$(BIN)/python -m pytest tests/deploy -v

# The long soak (make test runs a 20 s one): load through worker and master kills and
# PostgreSQL restarts, on PostgreSQL then SQLite; figures at the end. See docs/development.md.
SOAK_SECONDS ?= 300
SOAK_CYCLE_SECONDS ?= 60
SOAK_BACKENDS ?= postgresql,sqlite
soak: install
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CYCLE_SECONDS=$(SOAK_CYCLE_SECONDS) \
	SOAK_BACKENDS=$(SOAK_BACKENDS) $(BIN)/python -m pytest -p no:cacheprovider \
		tests/deploy/test_soak.py -v

lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/black --check $(LINTED)
	$(BIN)/isort --check-only $(LINTED)
	$(BIN)/mypy src
	$(BIN)/mypy --strict $(CLIENT)/src $(CLIENT)/examples examples

# Security scan of the service's code: no finding of any severity may remain; each one
# judged a false positive is suppressed where it is, with the reason (# nosec Bxxx).
security: install
	$(BIN)/bandit -q -r src

format: install
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/isort $(LINTED)
	$(BIN)/black $(LINTED)

clean: reset
	rm -rf $(VENV) $(VENV).lock $(FEAST_VENV) build *.egg-info
