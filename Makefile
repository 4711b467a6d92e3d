# The two commands of the README: `make demo` and `make test`. Each creates .venv and installs
# everything on first use (Python 3.11 and the package registries are all a machine needs).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-deps bench-deps test-all bench conformance install clean report-screenshot

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "edgeconv needs Python 3.11 (TensorFlow 2.21 wheels); set PYTHON=/path/to/python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' -c constraints.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/edgeconv demo -o out/demo --force

# As root with apt-get: install Debian packages, reading the package lists first when a fresh
# image has none (otherwise the install finds nothing and the tests that need them skip)
APT_INSTALL := command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$packages >/dev/null 2>&1 || \
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$packages >/dev/null; }; }

# openssh-server lets the ssh-target tests run a real server on 127.0.0.1 (skipped without it);
# chromium renders the demo report in the report test (skipped without it); postgresql's server runs the
# tune database tests on a loopback port (skipped without it)
test-deps:
	@test -x /usr/sbin/sshd || { packages="openssh-server"; $(APT_INSTALL); } || \
	  echo "openssh-server not installed: the ssh-target tests will be skipped"
	@test -x /usr/bin/chromium || { packages="chromium"; $(APT_INSTALL); } || \
	  echo "chromium not installed: the report browser test will be skipped"
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { packages="postgresql"; $(APT_INSTALL); } || \
	  echo "postgresql not installed: the tune database tests will be skipped"

# espeak-ng and sox synthesise the keyword-spotting task's speech (benchmarks/tasks/speech.py);
# without them that task and its tests are skipped
bench-deps:
	@{ command -v espeak-ng && command -v sox; } >/dev/null || { packages="espeak-ng sox"; $(APT_INSTALL); } || \
	  echo "espeak-ng/sox not installed: the keyword-spotting task will be skipped"

# the suite runs in 2 processes (pytest-xdist; a test file stays in one) on 2 cores
TEST_JOBS ?= 2

test: $(STAMP) test-deps bench-deps
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile
	$(BIN)/python -m pytest -q device_tests --target micro --no-skip
	$(BIN)/edgeconv targets setup arm64
	$(BIN)/python -m pytest -q device_tests --target arm64 --no-skip

# docs/report-demo.png: the top of the demo's report.html in headless Chromium
report-screenshot: $(STAMP) test-deps
	$(BIN)/edgeconv demo -o out/demo --force
	$(BIN)/python tests/browser.py out/demo/report.html docs/report-demo.png

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ""

bench: $(STAMP) bench-deps
	$(BIN)/python benchmarks/run.py

# every model of the conformance corpus through every step: the cells are kept in
# docs/conformance.json (a cell runs again when its command changes, or with
# `python -m benchmarks.conformance --rerun`), docs/conformance.md is rendered from them; a model
# is built, offline, into out/conformance/ only when one of its cells has to run
conformance: $(STAMP)
	$(BIN)/python -m benchmarks.conformance

clean:
	rm -rf $(VENV) out build *.egg-info
