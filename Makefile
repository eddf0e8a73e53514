# Dissemination Workbench — the two commands: `make run` and `make test`.
# Everything is installed into .venv at the exact versions of requirements.lock (so two machines get the same
# numbers), then the package itself from pyproject.toml; reinstalled when either changes.
# `make lock` refreshes requirements.lock from pyproject.toml's dependencies (after adding or raising one).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATASET ?= data/example
OUT    ?=
PYTEST_ARGS ?=

LOCK   := requirements.lock

.PHONY: run test lab report bench lint example clean help browser lock

help:
	@echo "make run      set up and run the pipeline on $(DATASET); prints where report.html is"
	@echo "make test     set up and run the whole test suite"
	@echo "make lab      open JupyterLab on the notebooks"
	@echo "make report DATASET=path/to/dataset   run the pipeline on another dataset"
	@echo "make bench    run the benchmarks (writes benchmarks/RESULTS.md)"
	@echo "make lock     refresh requirements.lock (pinned versions) from pyproject.toml"

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'  # new, not yet locked deps too
	$(BIN)/python -m ipykernel install --sys-prefix --name workbench --display-name "Python (workbench)" >/dev/null
	@touch $(STAMP)

# The report's browser tests need Debian's Chromium (and pdftotext for the printed PDF). Installed when missing
# and we may (root with apt-get, as on CI); otherwise those tests skip and say why.
browser:
	@if command -v chromium >/dev/null && command -v pdftotext >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium and poppler-utils for the report's browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null) \
	    || echo "chromium could not be installed: the browser tests will be skipped"; \
	else echo "chromium not found and not root: the browser tests will be skipped"; fi

lock: $(STAMP)
	$(BIN)/pip-compile --quiet --extra dev --strip-extras --no-emit-index-url --no-emit-find-links \
	  --output-file $(LOCK) pyproject.toml

run: $(STAMP)
	$(BIN)/workbench run $(DATASET) $(if $(OUT),--out $(OUT),)

report: run

# Two runs: the test suite on two workers, then the notebooks (nbval) in order in one kernel each — they hand
# data to each other through the run folder, so they must not be split across workers.
test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests $(PYTEST_ARGS)
	$(BIN)/python -m pytest notebooks

lint: $(STAMP)
	$(BIN)/ruff check workbench tests benchmarks

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

example: $(STAMP)
	$(BIN)/workbench simulate --out data/example --force

clean:
	rm -rf $(VENV) reports/*/
