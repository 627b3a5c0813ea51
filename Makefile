# The two set-up commands of the README. Both install what they need on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-isa isa-pass install tools

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,convert]'
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

# The recogniser and pipeline tests again on CTranslate2's other CPU kernels: forced AVX2, and
# on a CPU with AVX-512 also GENERIC, so a result that holds on one kernel set only shows up.
ISA_TESTS := tests/test_recognizer.py tests/test_pipeline.py tests/test_transcribe_cli.py

test-isa: install
	@grep -m1 'model name' /proc/cpuinfo
	$(MAKE) --no-print-directory isa-pass ISA=AVX2
	@if grep -qw avx512f /proc/cpuinfo; then $(MAKE) --no-print-directory isa-pass ISA=GENERIC; \
		else echo "no AVX-512 on this CPU: no GENERIC pass"; fi

# One pass under CT2_FORCE_CPU_ISA=$(ISA). CTranslate2 logs the ISA it selected when it loads a
# model, so Whisper is loaded once first to show it. pytest's exit code 5 (no tests ran) fails too.
isa-pass:
	@test -n "$(ISA)" || { echo "isa-pass needs ISA=AVX2|GENERIC|..."; exit 2; }
	@CT2_VERBOSE=1 CT2_FORCE_CPU_ISA=$(ISA) $(PY) -c 'from hive_agent.settings import load_settings; \
		from hive_agent.stt.whisper_decoder import load_whisper; load_whisper(load_settings())' 2>&1 \
		| grep -E 'CPU:|Selected ISA'
	CT2_FORCE_CPU_ISA=$(ISA) $(PY) -m pytest -q $(ISA_TESTS)
