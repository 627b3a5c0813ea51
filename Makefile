# The two set-up commands of the README. Both install what they need on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test install tools

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m hive_agent models prepare
	touch $@

install: $(VENV)/.installed

# promtool (Debian's prometheus package) checks the alert rules in the test suite.
tools:
	@command -v promtool >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

demo: install
	$(PY) -m hive_agent demo

test: install tools
	$(PY) -m pytest -q
