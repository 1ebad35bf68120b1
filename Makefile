# `make run` serves Dockyard; `make test` runs the whole suite. Both prepare the
# same things first: the virtualenv, the services, the database.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test bench prepare services

$(VENV)/installed: requirements.txt
	@scripts/venv.sh $(VENV)
	@touch $@

prepare: $(VENV)/installed
	@$(PY) manage.py migrate --noinput -v0
	@$(PY) manage.py collectstatic --noinput -v0

run: prepare
	@scripts/services.sh docker redis
	@$(PY) manage.py ensure_admin
	@scripts/run.sh

test: prepare
	@scripts/services.sh docker redis registry chromium busybox oidc
	@$(PY) -m pytest $(PYTEST_ARGS)
	@scripts/test-postgres.sh $(PYTEST_PG_ARGS)

bench: prepare
	@scripts/services.sh docker redis registry busybox
	@$(PY) bench/run.py
