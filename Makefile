# The two commands a newcomer needs: `make up` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

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

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check hub connectors projections alerts emulators tests bench
	$(BIN)/mypy hub connectors projections alerts emulators

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data build *.egg-info
