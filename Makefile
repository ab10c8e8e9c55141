# odoo-dr: the two commands of the README, and what they need.
#
#   make demo   install what is missing, bring the sandbox up, seed it, run a
#               restore drill on the real Temporal server, print the report
#   make test   install what is missing and run the whole test suite
#
# The virtualenv is made from Debian's python3 (3.11), outside root's home,
# because the sandbox's PostgreSQL runs as the 'postgres' account and its
# archive_command runs barman-cloud from this virtualenv.

PYTHON ?= /usr/bin/python3
VENV ?= .venv
BIN := $(VENV)/bin
SCALE ?= 1
DEB_PACKAGES := postgresql redis-server python3-venv python3-dev libpq-dev gcc
# The browser tests drive the Temporal UI with Debian's Chromium (never a
# downloaded browser); only `make test` needs it.
TEST_DEB_PACKAGES := chromium

.PHONY: demo test lint system-packages test-packages venv clean-sandbox

demo: venv
	$(BIN)/odoo-dr demo --scale $(SCALE)

test: venv test-packages
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

venv: system-packages $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian packages: installed when missing and we are root; otherwise named.
system-packages:
	@$(MAKE) --no-print-directory deb-packages PACKAGES="$(DEB_PACKAGES)"

test-packages:
	@$(MAKE) --no-print-directory deb-packages PACKAGES="$(TEST_DEB_PACKAGES)"

deb-packages:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing (run: sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi

clean-sandbox:
	-$(BIN)/odoo-dr sandbox down --purge
