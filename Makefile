# slo-service developer commands. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?= -n 2
export SLO_SERVICE_DATABASE_URL ?= sqlite:///var/slo-service.db

.PHONY: run test lint format install migrate demo-incident bench clean help generate check-generated

help:
	@echo "make run      - install, migrate and start the service with the demo model server (SQLite)"
	@echo "make test     - install and run the whole test suite"
	@echo "make lint     - ruff and mypy"
	@echo "make bench    - run the benchmarks in bench/"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	@mkdir -p var
	$(BIN)/slo-service db upgrade

run: migrate
	$(BIN)/slo-service demo --config examples/slo-service.yaml

# A deployment event (v4 after yesterday's v3), then the incident: the page is attributed to v4 and the
# response policy sends a rollback to v3 to the demo's stand-in CI (a `CI` line in the `make run` terminal).
DEMO_CLI = SLO_SERVICE_TOKEN_FILE=var/demo-admin-token $(BIN)/slo-service deployment record --url http://127.0.0.1:8080 \
	--service fraud-detector --environment production
demo-incident:
	$(DEMO_CLI) --version v3 --model-version fraud-v3 --time $$(( $$(date +%s) - 86400 )) >/dev/null
	$(DEMO_CLI) --version v4 --model-version fraud-v4 --commit demo4
	curl -fsS -X POST 'http://127.0.0.1:9105/incident?duration=900'

# pytest exits 5 when it collected no tests: that is a failure here, never a pass.
test: $(STAMP)
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check slo_service tests bench
	$(BIN)/ruff format --check slo_service tests bench
	$(BIN)/mypy slo_service

format: $(STAMP)
	$(BIN)/ruff format slo_service tests bench
	$(BIN)/ruff check --fix slo_service tests bench

# Generated artifacts come only from here; CI fails when the committed ones differ.
GENERATE_CONFIG ?= examples/slo-service.yaml
generate: $(STAMP)
	$(BIN)/slo-service generate prometheus-rules --config $(GENERATE_CONFIG) --out alert_rules/slo-rules.yml
	$(BIN)/slo-service generate self-rules --out alert_rules/slo-service.rules.yml
	$(BIN)/slo-service generate alertmanager-config --config $(GENERATE_CONFIG) --out alert_rules/alertmanager.yml
	$(BIN)/slo-service generate dashboards --out dashboards

check-generated: generate
	@git diff --exit-code -- alert_rules dashboards || { echo "generated files differ from the committed ones: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- alert_rules dashboards)" || { git status --porcelain -- alert_rules dashboards; echo "untracked generated files: run make generate and commit"; exit 1; }

bench: $(STAMP)
	$(BIN)/python bench/bench_evaluate.py
	$(BIN)/python bench/bench_scrape.py
	$(BIN)/python bench/bench_store.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
