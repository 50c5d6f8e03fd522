# Every target creates or refreshes .venv itself: nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("streamshell needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/streamshell serve --http $(ARGS)

test: lint $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(ARGS)

# 10 minutes of fuzzing handle_function_call and the stdio server with fresh seeds (the suite runs
# a bounded, derandomized slice): prints calls, crashes and hangs; exits 1 on any crash or hang.
.PHONY: fuzz
fuzz: $(STAMP)
	$(BIN)/python tests/fuzzing.py --minutes 10 $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy src
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

clean:
	rm -rf $(VENV) build src/*.egg-info
