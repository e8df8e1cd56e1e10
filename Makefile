# The commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
# pip reads constraints.txt so a fresh machine gets the versions the tests passed with.
PIP := $(BIN)/pip install --quiet --constraint constraints.txt

.PHONY: demo test bench lint lock clean java-17

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

# The suite drives Debian's chromium (browser tests) and Java 17 (Spark): installed here
# when this user may (root, or sudo without a password), else make stops at once with
# the one command to run.
CHROMIUM := /usr/bin/chromium
APT_GET := $(if $(filter 0,$(shell id -u)),apt-get,sudo -n apt-get)

$(CHROMIUM):
	@$(APT_GET) -q update >/dev/null 2>&1 && $(APT_GET) install -y -q chromium >/dev/null 2>&1 \
	|| { echo "make test: the browser tests need Debian's chromium. Install it with:" >&2; \
	     echo "    sudo apt-get install -y chromium" >&2; exit 1; }

java-17:
	@java -version 2>&1 | grep -q 'version "17' \
	|| $(APT_GET) install -y -q openjdk-17-jre-headless >/dev/null 2>&1 \
	|| { echo "make test: the Spark tests need Java 17. Install it with:" >&2; \
	     echo "    sudo apt-get install -y openjdk-17-jre-headless" >&2; exit 1; }

test: $(VENV)/.stamp-test $(CHROMIUM) java-17
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
