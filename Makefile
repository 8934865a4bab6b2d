# Emojich Workbench. The two commands: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQS := requirements/build.txt requirements/base.txt requirements/nobuildisolation.txt requirements/nodeps.txt pyproject.toml

.PHONY: setup system demo test bench lint clean

setup: system $(STAMP)

system:
	@bash scripts/system_packages.sh

$(STAMP): $(REQS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements/build.txt
	$(BIN)/pip install -q -r requirements/base.txt
	$(BIN)/pip install -q --no-build-isolation -r requirements/nobuildisolation.txt
	$(BIN)/pip install -q --no-deps -r requirements/nodeps.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: setup
	$(BIN)/emojich demo

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/run_all.py

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV)
