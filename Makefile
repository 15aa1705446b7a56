# Two commands matter: `make demo` and `make test`. Each sets itself up on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMVENV := .venv-sam

.PHONY: setup test lint typecheck unit bench demo serve template-check clean test-browser screenshot

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

# Template checks: cfn-lint, `sam validate --lint` and `sam build`. SAM CLI pins boto3 and
# pydantic exactly, so it gets its own virtualenv.
$(SAMVENV)/.installed:
	test -x $(SAMVENV)/bin/python || $(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/python -m pip install -q --disable-pip-version-check aws-sam-cli
	touch $@

template-check: setup $(SAMVENV)/.installed
	$(BIN)/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAMVENV)/bin/sam validate --lint --template template.yaml --region us-east-1
	SAM_CLI_TELEMETRY=0 $(SAMVENV)/bin/sam build --template template.yaml --build-dir .aws-sam/build
	# Ship bytecode in the layer: cold-start imports ~2.3x -> ~1.3x `import boto3` (make bench).
	$(SAMVENV)/bin/python -m compileall -q --invalidation-mode unchecked-hash .aws-sam/build/CapiWritebackLayer/python \
		.aws-sam/build/McpLayer/python

clean:
	rm -rf $(VENV) $(SAMVENV) .aws-sam
