# The two commands: `make demo` and `make test` (`make test-fast`: the same without the slow tests).
# All bootstrap .venv idempotently first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(VENV)/bin

# Quiet, offline-friendly Prefect defaults; a caller's own settings win.
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
export DO_NOT_TRACK ?= 1

.PHONY: demo test test-fast lint lock bootstrap system-packages clean peers-env

# Debian packages the tests use: headless Chromium (HTML report) and poppler (PDF pages and text).
SYSTEM_TOOLS := chromium pdftoppm pdftotext
SYSTEM_PACKAGES := chromium poppler-utils libgomp1
# Shared libraries the Python packages load from the system (LightGBM's OpenMP runtime, in the tests).
SYSTEM_LIBRARIES := libgomp.so.1
PIP := $(BIN)/python -m pip --quiet --quiet
# Test processes (pytest-xdist), each with one torch and one BLAS thread and its own Prefect server; a test file
# stays in one process, so its module fixtures (the demo run) start once. `make test TEST_WORKERS=1`: serially.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

bootstrap: $(STAMP) system-packages

# Re-installs only when the lock or the project metadata changed since the last install.
$(STAMP): requirements.lock pyproject.toml
	@echo "==> bootstrapping $(VENV) (installs only when requirements.lock or pyproject.toml changed)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Installs the Debian packages only when one of their tools or libraries is missing (needs root, as on CI).
system-packages:
	@for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing=1; done; \
	for library in $(SYSTEM_LIBRARIES); do ldconfig -p | grep -q "$$library" || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "==> installing $(SYSTEM_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	fi

demo: $(STAMP)
	$(BIN)/dynaudit demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint system-packages
	$(PYTEST)

# The quick loop: lint, then every test not marked slow.
test-fast: lint system-packages
	$(PYTEST) -m "not slow"

# Optional, for benchmarks/peers.py: SACRO-ML and ART (whose attacks dynaudit's are compared with) in their own
# environment, since SACRO-ML needs pandas < 3 and torch (about 6 GB). Installs only when missing.
PEERS_VENV := .venv-peers
peers-env:
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	@$(PEERS_VENV)/bin/python -c "import sacroml, art, skops, pyarrow" 2>/dev/null || \
	  $(PEERS_VENV)/bin/python -m pip --quiet --quiet install sacroml==2.0.1 adversarial-robustness-toolbox==1.20.1 \
	    "scikit-learn==1.9.1" skops pyarrow

clean:
	rm -rf $(VENV) $(PEERS_VENV) out .pytest_cache .ruff_cache

lock: $(STAMP)
	( echo "# Exact pins for a reproducible install (pip freeze of a working .venv). Regenerate with: make lock"; \
	  $(BIN)/python -m pip freeze --all --exclude-editable | grep -v '^pip==' ) > requirements.lock
