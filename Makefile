# frontdoor — two commands on a fresh machine:  `make dev`  and  `make test`.
# Both create .venv (pinned dependencies from pyproject.toml + constraints.txt) on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: dev test lint typecheck imports schemas-check unit integration bench clean test-tools

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev]'
	# liiatools only for its published Annex A / CIN YAML and XSD (outside checks); its own
	# dependency tree (pandas, …) is not needed to read those files
	$(BIN)/pip install --disable-pip-version-check -q --no-deps liiatools==0.2.0
	touch $(STAMP)

## make dev: the whole system on the embedded broker and database, with a demo feed
dev: $(STAMP)
	$(BIN)/frontdoor dev

## make test: lint, types, import rules, contract freshness, then every test
test: $(STAMP) test-tools lint typecheck imports schemas-check
	# unit and integration tests on two processes (each its own broker and PostgreSQL); the
	# whole-stack runs (e2e, faults) after them, one at a time: they start full stacks and
	# compare views, and two of them at once starved each other on two cores
	# (the CLI error sweep starts no stack: it runs with the first phase)
	$(BIN)/pytest -n 2 --dist loadfile tests/unit tests/integration tests/e2e/test_cli_errors.py
	$(BIN)/pytest tests/e2e tests/faults --ignore=tests/e2e/test_cli_errors.py

## outside tools the tests use: Debian's chromium (dashboard), tmux (ooh watch), promtool (the alert rules, from Debian's prometheus), the DfE CIN validator (own venv)
test-tools:
	sh scripts/install-browser.sh
	command -v tmux >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y tmux)
	command -v promtool >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus)
	bash scripts/cin-validator.sh --install

lint: $(STAMP)
	$(BIN)/ruff check schemas services tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

schemas-check: $(STAMP)
	$(BIN)/python -m schemas.export --check
	$(BIN)/python -m services.ingress.openapi --check

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration tests/e2e tests/faults

## make bench: the full forms (the suite runs short ones): runners per service, the fault run, intake
bench: $(STAMP)
	$(BIN)/python bench/runners.py
	$(BIN)/python bench/faults.py --days 30 --kills 20 --replicas 2
	$(BIN)/python bench/intake_throughput.py

clean:
	rm -rf $(VENV) .frontdoor .pytest_cache .mypy_cache .ruff_cache
