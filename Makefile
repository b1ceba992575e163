# enforcegw: the two README commands (`make demo`, `make test`) plus bench and lint.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test bench lint venv clean tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# setup.py builds the optional C accelerator (evidence/_scan.c) in place; without a C compiler, Python headers or
# OpenSSL headers it is skipped with a warning and the audit runs its pure-Python paths.
$(STAMP): pyproject.toml setup.py evidence/_scan.c | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# Mosquitto is a test dependency (tests that load a broker start their own); install it when missing.
tools:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null) || \
	    echo "mosquitto not installed: broker tests will be skipped"; }

## The main job: embedded PostgreSQL + embedded MQTT broker, synthetic patrol and sensors, live summary.
demo: $(STAMP)
	$(BIN)/enforcegw demo

## The whole suite against real PostgreSQL and MQTT (the local servers when their ports answer).
test: $(STAMP) tools
	@ENFORCEGW_TEST_DATABASE_URL="$${ENFORCEGW_TEST_DATABASE_URL:-$$(bash .ci/detect-services db)}" \
	 ENFORCEGW_TEST_MQTT_URL="$${ENFORCEGW_TEST_MQTT_URL:-$$(bash .ci/detect-services mqtt)}" \
	 $(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
