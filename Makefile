# The two commands a newcomer needs: `make up` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The dashboard's browser tests drive the system's Chromium (Playwright downloads nothing).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: up run test lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)


# The whole product on the embedded broker, with the demo organisation and live activity.
up: $(STAMP)
	$(BIN)/hub up --demo

# The hub alone (embedded broker unless configured), for your own sources.
run: $(STAMP)
	$(BIN)/hub up

# Lint first: a style or type error fails fast, before the broker-backed tiers run.
# Two workers, each test module whole on one of them (its module fixtures set up once):
# most tests wait on hub processes and brokers, so the suite takes about half as long.
test: lint $(CHROMIUM)
	$(BIN)/pytest -q -n 2 --dist loadfile

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "Install Chromium at $(CHROMIUM) for the browser tests."; exit 1; }
	$(SUDO) apt-get install -y chromium || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

lint: $(STAMP)
	$(BIN)/ruff check core connectors projections alerts themes hub emulators demo tests bench
	$(BIN)/mypy core connectors projections alerts themes hub emulators demo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data build *.egg-info
