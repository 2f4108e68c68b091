# civicgrid: the two README commands and friends.  Run as root on Debian 12.
.PHONY: setup run test test-unit test-deploy lint bench stack-up stack-down stack-status clean

VENV ?= .venv
PY := $(VENV)/bin/python

setup:  ## system packages, TimescaleDB build, .venv (idempotent)
	bash deploy/debian/setup.sh

run:  ## the whole platform locally; Ctrl-C stops everything
	$(VENV)/bin/civicgrid run

JUNIT ?= var/test-results.xml

test:  ## the whole suite: unit, integration (real services), end-to-end
	$(VENV)/bin/pytest --junitxml=$(JUNIT)

test-unit:
	$(VENV)/bin/pytest tests/unit

test-deploy:  ## the production manifests (deploy/): compose-go, helm lint/template, Kubernetes schemas; no engine
	$(VENV)/bin/pytest tests/deploy

lint:  ## ruff, and mypy in strict mode on civicgrid/ (its config: [tool.mypy] in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench:  ## every bench/*.py; figures into bench/results.json
	$(PY) bench/run_all.py

stack-up:
	$(VENV)/bin/civicgrid stack up
stack-down:
	$(VENV)/bin/civicgrid stack down
stack-status:
	$(VENV)/bin/civicgrid stack status

clean:  ## stop the local stack and delete its state (var/)
	-$(VENV)/bin/civicgrid stack down
	rm -rf var
