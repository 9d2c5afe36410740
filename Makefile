# newsbot: `make run` starts the daemon, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-crash lint bench demo clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/newsbot run

demo: $(STAMP)
	$(BIN)/newsbot demo

lint: $(STAMP)
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/mypy

# The Debian packages the tests drive (Chromium, newsboat, rss2email): installed as root with
# apt-get when missing, else one line saying what to install. The list is in .ci/system-deps.
system-deps:
	@bash .ci/system-deps

test: system-deps lint
	$(BIN)/python -m pytest -q

test-crash: system-deps $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
