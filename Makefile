# The two commands a newcomer needs: `make up` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up run test lint bench clean

OBJECTSTORE := hub/objectstore/node_modules/.package-lock.json

$(STAMP): pyproject.toml $(OBJECTSTORE)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The embedded broker keeps its log in a local object store (s3rver, from the npm
# registry, pinned by the lock file). Node.js comes from the system's packages if missing.
$(OBJECTSTORE): hub/objectstore/package.json hub/objectstore/package-lock.json
	command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	npm ci --prefix hub/objectstore --no-audit --no-fund --loglevel=error

# The whole product on the embedded broker, with the demo organisation and live activity.
up: $(STAMP)
	$(BIN)/hub up --demo

# The hub alone (embedded broker unless configured), for your own sources.
run: $(STAMP)
	$(BIN)/hub up

# Lint first: a style or type error fails fast, before the broker-backed tiers run.
test: lint
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check core connectors projections alerts hub emulators demo tests bench
	$(BIN)/mypy core connectors projections alerts hub emulators demo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data build *.egg-info
