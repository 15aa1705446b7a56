# Two commands matter: `make demo` and `make test`. Each sets itself up on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMVENV := .venv-sam

.PHONY: setup test lint typecheck unit bench demo serve fuzz template-check clean test-browser screenshot

setup: $(STAMP)

$(STAMP): pyproject.toml layers/capi_writeback/requirements.txt layers/mcp/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy layers/capi_writeback/capi_writeback layers/mcp/capi_writeback_mcp

unit: setup
	bin/offline $(BIN)/python -m pytest --ignore=tests/browser

# The dashboard in a real headless Chromium (Debian's chromium + chromium-driver; .ci/run installs
# them): sign in, the audit rows of a demo push, filters, paging, breaker reset, errors with fixes.
test-browser: setup
	bin/offline $(BIN)/python -m pytest tests/browser

# docs/dashboard.png (the README shows it): the dashboard after a demo push, from headless Chromium.
screenshot: setup
	bin/offline $(BIN)/python -m tests.browser.shoot docs/dashboard.png

test: lint typecheck unit

bench: setup
	$(BIN)/python -m bench

demo: setup
	$(BIN)/capi-writeback demo

serve: setup
	$(BIN)/capi-writeback serve

# The hostile bodies of issue 9 on every route, then schemathesis for the rest of FUZZ_SECONDS, against
# `capi-writeback serve` (started and stopped here), with a summary: requests, statuses, any 5xx.
FUZZ_SECONDS ?= 90
fuzz: setup
	bin/offline $(BIN)/python -m tests.robustness.fuzz --seconds $(FUZZ_SECONDS)

# Template checks: cfn-lint, `sam validate --lint` and `sam build`. SAM CLI pins boto3 and
# pydantic exactly, so it gets its own virtualenv. The layer is built by its own Makefile.
$(SAMVENV)/.installed:
	test -x $(SAMVENV)/bin/python || $(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/python -m pip install -q --disable-pip-version-check aws-sam-cli
	touch $@

template-check: setup $(SAMVENV)/.installed
	$(BIN)/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAMVENV)/bin/sam validate --lint --template template.yaml --region us-east-1
	SAM_CLI_TELEMETRY=0 $(SAMVENV)/bin/sam build --template template.yaml --build-dir .aws-sam/build
	# Each layer's own build (layers/*/Makefile) ships its bytecode: check it did.
	test -f .aws-sam/build/CapiWritebackLayer/python/capi_writeback/__pycache__/events.cpython-311.pyc
	test -f .aws-sam/build/McpLayer/python/capi_writeback_mcp/__pycache__/tools.cpython-311.pyc

clean:
	rm -rf $(VENV) $(SAMVENV) .aws-sam
