# Two commands run the portal: `make run` (set up everything and start it) and `make test`.
# Everything installs into .venv; a stamp file per requirements set means pip runs again only
# when a requirements file changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
# Two pytest workers match the two cores we plan for; PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2

.PHONY: run test lint format bench screenshots setup clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# The dev set includes the runtime set, so a fresh dev install also satisfies `make run`.
$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@ $(RUNTIME_STAMP)

setup: $(RUNTIME_STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py ensure_admin
	$(PY) manage.py collectstatic --noinput -v 0

run: setup
	$(PY) scripts/run.py

lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: $(DEV_STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# pytest exits 5 when it collected no test: that is a failure here, never a green run.
test: lint
	@if [ "$(PYTEST_WORKERS)" = "0" ]; then workers=""; else workers="-n $(PYTEST_WORKERS)"; fi; \
	$(PY) -m pytest $$workers; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests - failing." >&2; exit 1; fi; \
	exit $$status

# The benchmark measures on a scratch database of its own; the portal's data is never touched.
bench: $(RUNTIME_STAMP)
	$(PY) manage.py bench

# The README's screenshots (docs/screenshots/), taken on a scratch database with the demo data.
screenshots: $(DEV_STAMP)
	$(PY) scripts/screenshots.py

clean-venv:
	rm -rf $(VENV)
