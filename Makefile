# The commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
# pip reads constraints.txt so a fresh machine gets the versions the tests passed with.
PIP := $(BIN)/pip install --quiet --constraint constraints.txt

.PHONY: demo test bench lint lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# Stamp files re-install only when the package metadata or the pins change.
$(VENV)/.stamp-run: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-run
	$(PIP) -e '.[test]'
	touch $@

demo: $(VENV)/.stamp-run
	DEMO_DIR=$(DEMO_DIR) $(BIN)/openphm demo --dir $(DEMO_DIR)

test: $(VENV)/.stamp-test
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(VENV)/.stamp-test
	$(BIN)/python -m bench
	$(BIN)/python -m bench.synth
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.need
	$(BIN)/python -m bench.measure
	$(BIN)/python -m bench.cost
	$(BIN)/python -m bench.risk
	$(BIN)/python -m bench.load

lint: $(VENV)/.stamp-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# Re-pin after changing dependencies: installs afresh and writes constraints.txt.
lock:
	rm -rf /tmp/openphm-lock && $(PYTHON) -m venv /tmp/openphm-lock
	/tmp/openphm-lock/bin/pip install --quiet -e '.[test]'
	/tmp/openphm-lock/bin/pip freeze --exclude-editable | grep -v '^openphm' > constraints.txt

clean:
	rm -rf $(VENV) $(DEMO_DIR) spark-warehouse
