# clickpath — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help install run test test-unit test-crash lint format clean bench bench-ingress bench-deliveries bench-clickhouse bench-state bench-attribution bench-cohorts bench-statements bench-identity chromium

# import-linter and mypy read the package as it installs (clickpath.streams is streams/, ...):
# the editable install maps those folders with an import hook that neither tool follows, so
# the lint step lays the installed tree out under build/ (a copy of a few hundred kB).
LAYOUT := build/installed-layout

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "Installing clickpath into $(VENV) (first run: about a minute, quietly)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) ## Create .venv and install clickpath with its dev tools

# Debian's chromium and chromedriver drive the web SDK browser test; apt-get only when missing.
chromium: ## Install Debian chromium + chromium-driver (web SDK test; needs root and apt)
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
	  :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
	  echo "make chromium: no /usr/bin/chromium and no root apt-get here; the web SDK test will skip"; \
	fi

run: $(STAMP) ## Run the whole pipeline embedded, with demo traffic (Ctrl-C stops it)
	$(BIN)/clickpath up --demo

TEST_PROCESSES ?= 2

test: lint chromium ## Lint, then the unit and integration tests (real embedded broker; not test-crash), in parallel processes
	$(BIN)/python -m pytest --numprocesses=auto --maxprocesses=$(TEST_PROCESSES)

test-unit: $(STAMP) ## Run the unit tests only (no broker, seconds)
	$(BIN)/python -m pytest tests/unit

# Not part of `make test` (pyproject's testpaths leave tests/crash out); .ci/run runs it after.
test-crash: $(STAMP) ## Crash tests: the broker crash test (every event type, 12 random SIGKILLs, exact figures) and real processes killed at named crash points (~7 min)
	$(BIN)/python -m pytest tests/crash -s

lint: $(STAMP) ## ruff, the import layers (import-linter) and the types (mypy)
	$(BIN)/ruff check .
	rm -rf $(LAYOUT) && mkdir -p $(LAYOUT)/clickpath
	cp -r clickpath/. $(LAYOUT)/clickpath/
	for stage in streams connectors sinks; do cp -r $$stage $(LAYOUT)/clickpath/$$stage; done
	cd $(LAYOUT) && $(CURDIR)/$(BIN)/lint-imports $(CURDIR)/pyproject.toml
	cd $(LAYOUT) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
	  --cache-dir $(CURDIR)/.mypy_cache -p clickpath

format: $(STAMP) ## ruff format the code
	$(BIN)/ruff format .

clean: ## Remove the virtual environment and local pipeline data
	rm -rf $(VENV) build .clickpath .pytest_cache .ruff_cache .mypy_cache

bench: $(STAMP) ## Benchmark the whole pipeline on the embedded broker (~11 min; prints a table)
	$(BIN)/clickpath bench --results tests/bench/results.jsonl

bench-ingress: $(STAMP) ## Benchmark the event API and the click tracker (~1 min)
	$(BIN)/clickpath bench-ingress --results tests/bench/results.jsonl

bench-deliveries: $(STAMP) ## Benchmark postback delivery to local receivers (~2 min)
	$(BIN)/clickpath bench-deliveries --results tests/bench/results.jsonl

bench-state: $(STAMP) ## A player with 100,000 deposits: state size and per-event cost (~1 min)
	$(BIN)/clickpath bench-state --results tests/bench/results.jsonl

bench-attribution: $(STAMP) ## Every attribution model over 1M paths, in memory and read from ClickHouse (~3 min)
	$(BIN)/python -m clickpath.devtools.bench.attribution --clickhouse --results tests/bench/results.jsonl

SIZES ?= 10000000
bench-clickhouse: $(STAMP) ## Funnel queries on ClickHouse filled to SIZES events (10M ~1-2 min)
	$(BIN)/clickpath bench-clickhouse --sizes $(SIZES) --results tests/bench/results.jsonl

bench-cohorts: $(STAMP) ## Cohorts and retention over 1M players in embedded ClickHouse (~2 min)
	$(BIN)/clickpath bench-cohorts --results tests/bench/results.jsonl

bench-statements: $(STAMP) ## A period's commission statements: 10,000 affiliates x 1M players in embedded ClickHouse (~1 min)
	$(BIN)/clickpath bench-statements --results tests/bench/results.jsonl

bench-identity: $(STAMP) ## 1M players with 3 devices each: persons, links, state size, merge cost, capped identifiers (~1 h)
	$(BIN)/clickpath bench-identity --results tests/bench/results.jsonl
