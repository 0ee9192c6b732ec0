# bulk-assign: every target that needs the package bootstraps .venv first (once, via a stamp).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CATALOG ?= Sandbox
ARGS   ?=

.PHONY: install validate assign resume demo emulator test test-deep bench bench-full lint clean help

help:
	@echo "make demo                          set up, start the local emulator, run the sample"
	@echo "make test                          run the test suite (in parallel, then the pacing tests alone)"
	@echo "make validate FILE=sheet.xlsx      check a sheet offline (CATALOG=Sandbox|AWS optional)"
	@echo "make assign FILE=sheet.xlsx CATALOG=Sandbox [ARGS='--profile P']"
	@echo "make resume RUN=runs/<folder>      finish an interrupted run"
	@echo "make bench                         benchmarks, about 18 min (bench-full: about 50 min)"
	@echo "make lint | clean"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

validate: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make validate FILE=path/to/sheet.csv [CATALOG=Sandbox]"; exit 2; }
	$(BIN)/bulk-assign validate "$(FILE)" $(if $(filter command line,$(origin CATALOG)),--catalog $(CATALOG)) $(ARGS)

assign: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make assign FILE=path/to/sheet.csv CATALOG=Sandbox [ARGS=...]"; exit 2; }
	$(BIN)/bulk-assign run "$(FILE)" --catalog $(CATALOG) $(ARGS)

resume: $(STAMP)
	@test -n "$(RUN)" || { echo "usage: make resume RUN=runs/<folder>"; exit 2; }
	$(BIN)/bulk-assign resume "$(RUN)" $(ARGS)

demo: $(STAMP)
	@scripts/demo.sh

emulator: $(STAMP)
	$(BIN)/bulk-assign emulator $(ARGS)

# Two steps: everything but the wall-clock pacing tests on every core (pytest-xdist), then the
# pacing tests alone, one at a time, so that no other test's load moves what they measure.
# Five workers per core: most tests wait on paced calls and subprocesses, not on the CPU.
# Tests are handed out one at a time (--maxschedchunk 1) in the order tests/conftest.py gives
# them, the slowest first and spread over the workers: in xdist's default chunks of neighbours
# one worker ran the slow ones in turn long after the others were done.
# Bytecode caches on, whatever the shell says: with PYTHONDONTWRITEBYTECODE set, every xdist
# worker compiled and assertion-rewrote every test module again, and every subprocess compiled
# the package again (the suite took 7 CPU-minutes instead of 4.5). A first collection in one
# process writes those caches (a clean clone's ten workers each compiled everything at once:
# make test took 3m17 there, 2m57 with this step; 3 s more once the caches exist).
PYTEST        := env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -q -p no:cacheprovider
TEST_WORKERS  ?= $(shell echo $$(( $$(nproc) * 5 )))

test: $(STAMP)
	@$(PYTEST) -p no:xdist --collect-only $(ARGS) > /dev/null || true  # errors: shown by the next step
	$(PYTEST) -n $(TEST_WORKERS) --dist load --maxschedchunk 1 -m "not pacing" $(ARGS)
	$(PYTEST) -p no:xdist -m pacing $(ARGS)

test-deep: $(STAMP)
	@$(PYTEST) -p no:xdist --collect-only $(ARGS) > /dev/null || true  # errors: shown by the next step
	HYPOTHESIS_PROFILE=deep $(PYTEST) -n $(TEST_WORKERS) --dist load --maxschedchunk 1 -m "not pacing" $(ARGS)
	HYPOTHESIS_PROFILE=deep $(PYTEST) -p no:xdist -m pacing $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(ARGS)

bench-full: $(STAMP)
	$(BIN)/python -m benchmarks --full $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check bulk_assign tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
