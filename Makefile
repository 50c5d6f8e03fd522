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

test: lint $(STAMP) bubblewrap
	$(BIN)/python -m pytest $(ARGS)

# The sandbox tests need bubblewrap (bwrap). Installed here when missing and this is root with
# apt-get (under a lock: several runs may start at once); otherwise stop and say what to do.
.PHONY: bubblewrap
bubblewrap:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing bubblewrap (apt-get install bubblewrap)"; \
	    flock /var/lock/streamshell-apt.lock sh -c 'command -v bwrap >/dev/null || \
	      { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null || \
	        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; }; }'; \
	  fi; \
	  command -v bwrap >/dev/null || { echo "the sandbox tests need bubblewrap (bwrap): install it as root (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap) and run make test again" >&2; exit 1; }; \
	}

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
