# One target per thing a person does. Every target creates the virtualenv if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/exchange-analytics db upgrade
	$(BIN)/exchange-analytics cycle --provider demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not bench"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure"; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench
	$(BIN)/mypy
	$(BIN)/bandit -q -c pyproject.toml -r src scripts --severity-level medium
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/run_all.py
	$(BIN)/python -m pytest -q -p no:cacheprovider -m bench tests/unit/test_patterns_engine_equality.py

clean:
	rm -rf $(VENV) data/*.db logs/*.log*
