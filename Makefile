# The two commands of the README: `make audit` (the main job) and `make test` (the tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: audit test venv peers lint selftest bench clean

# A venv with mailspec installed editable, rebuilt when pyproject.toml changes.
$(STAMP): pyproject.toml
	ci/bootstrap-python $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The whole suite against the embedded reference peers; report in reports/latest/.
audit: venv
	$(BIN)/mailspec run

# Debian packages of the real peers (Postfix...), installed when missing.
peers:
	ci/install-peers

lint: venv
	$(BIN)/ruff check conformance scenarios tests benchmarks
	$(BIN)/mypy conformance scenarios

selftest: venv
	$(BIN)/mailspec selftest

test: venv peers lint
	ci/install-browser || true  # the browser tests skip, naming why, where Chromium cannot be installed
	ci/install-clients || true  # the real clients the client scenarios judge; tests skip a missing one
	ci/install-docker && ci/make-base-image || true  # the Docker-backend tests skip, naming why, where no engine can run
	$(BIN)/pytest tests -n 2 -p no:cacheprovider -q

bench: venv
	$(BIN)/python benchmarks/suite_walltime.py

clean:
	rm -rf $(VENV) reports/2* reports/latest
