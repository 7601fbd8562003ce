# The two commands: `make demo` and `make test`. Both bootstrap .venv idempotently first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(VENV)/bin

# Quiet, offline-friendly Prefect defaults; a caller's own settings win.
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
export DO_NOT_TRACK ?= 1

.PHONY: demo test lint lock bootstrap clean

bootstrap: $(STAMP)

# Re-installs only when the lock or the project metadata changed since the last install.
$(STAMP): requirements.lock pyproject.toml
	@echo "==> bootstrapping $(VENV) (installs only when requirements.lock or pyproject.toml changed)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dynaudit demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache

lock: $(STAMP)
	( echo "# Exact pins for a reproducible install (pip freeze of a working .venv). Regenerate with: make lock"; \
	  $(BIN)/python -m pip freeze --all --exclude-editable | grep -v '^pip==' ) > requirements.lock
