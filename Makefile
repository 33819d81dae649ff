# The two commands a newcomer needs: `make run` (serve the API with demo data) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test check lint format bench lock clean venv

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

## Serve http://127.0.0.1:8000/graphql with demo data (embedded PostgreSQL unless DATABASE_URL is set).
run: venv
	$(BIN)/hrss-credit serve --migrate --seed-demo

## The whole test suite against a real PostgreSQL (TEST_DATABASE_URL when set, else an embedded one).
test: venv
	$(BIN)/pytest

## Lint, format check, strict typing and the layer contracts.
check: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks print figures; they are not part of `make test`.
bench: venv
	$(BIN)/python -m bench

## Re-pin every package after changing pyproject.toml.
lock:
	rm -rf /tmp/hrss-lock && $(PYTHON) -m venv /tmp/hrss-lock
	/tmp/hrss-lock/bin/pip install -q -e '.[dev]'
	/tmp/hrss-lock/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt.new
	(head -2 constraints.txt; cat constraints.txt.new) > constraints.txt && rm constraints.txt.new

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
