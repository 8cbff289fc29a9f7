# Atouts — `make run` (set up + start everything) and `make test` (set up + pass the suite).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
RASA   := $(VENV)/bin/rasa
MODEL  := models/atouts.tar.gz
STAMP  := $(VENV)/.installed
# The web app's own environment: maintained aiohttp and Python, not held by Rasa's pins
WEB_VENV  := .venv-web
WEB_STAMP := $(WEB_VENV)/.installed
# Python >= 3.11 for the web app when the machine has one (3.10 reached end of life), else 3.10
WEB_PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3 $(PY310); do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; assert sys.version_info[:2]>=(3,10)' 2>/dev/null && { echo $$p; break; }; done)
WEBCHAT := bot/web/static/vendor/rasa-webchat/index.js
BROWSER_DRIVER := tests/browser/node_modules/playwright-core/package.json
# Python 3.10 (Rasa 3.6 supports <= 3.10): from PATH, else from pyenv.
PY310  ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
            command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; assert sys.version_info[:2]==(3,10)' 2>/dev/null && { echo $$p; break; }; done)
TRAIN_INPUTS := config.yml domain.yml $(shell find data bot/nlu bot/skills -type f \( -name '*.yml' -o -name '*.py' \) -not -path 'data/catalogue/*' -not -path 'data/safety/*' 2>/dev/null)
# Local settings (see .env.example), never committed.
ifneq (,$(wildcard .env))
include .env
export
endif
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONHASHSEED := 0
# This checkout's code first (several clones may share one venv's editable install)
export PYTHONPATH := $(CURDIR)

.PHONY: help setup run train evaluate evaluate-safety review review-apply test test-unit test-stories test-e2e validate rules bench fuzz lint lock lock-web clean badge-demo

help:
	@echo "make run       set up, train if needed, start the assistant (chat page URL printed)"
	@echo "make test      set up, train if needed, run the whole test suite"
	@echo "make train     retrain the model when data/config changed (also: rasa train)"
	@echo "make evaluate  intent and soft-skill metrics on held-out tests -> results/"
	@echo "make evaluate-safety  crisis detection, languages, help lines over HTTP -> results/safety.md"
	@echo "make review    candidate training stories people allowed -> review/candidates.yml (decide each one)"
	@echo "make review-apply  accepted ones into data/nlu/experiences/reviewed.yml (then make train)"
	@echo "make bench     latency/throughput/memory benchmark (REST channel)"
	@echo "make fuzz [SEED=n] [WALKS=500] [CONCURRENCY=3]   conversation fuzzer -> results/fuzz/"
	@echo "make lint      rasa data validate + python compile checks"
	@echo "make rules     regenerate data/rules/interruptions.yml from data/dialogue/interruptions.yml"
	@echo "make badge-demo OUT=dir   issue a sample Open Badges 3.0 credential into dir"

setup: $(STAMP) $(WEB_STAMP) $(WEBCHAT)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -n "$(PY310)" || { echo "Python 3.10 is required (Rasa 3.6). Install it (e.g. pyenv install 3.10) and retry."; exit 1; }
	test -x $(PY) || $(PY310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==24.3.1"
	# One resolution for everything: the constraints keep Rasa's own pins.
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	mkdir -p var
	touch $@

$(WEB_STAMP): requirements-web.txt constraints-web.txt
	@test -n "$(WEB_PYTHON)" || { echo "Python >= 3.10 is required for the web app."; exit 1; }
	test -x $(WEB_VENV)/bin/python || $(WEB_PYTHON) -m venv $(WEB_VENV)
	$(WEB_VENV)/bin/python -m pip install --quiet -r requirements-web.txt -c constraints-web.txt
	touch $@

$(WEBCHAT): scripts/fetch_webchat.sh
	bash scripts/fetch_webchat.sh

# playwright-core drives the system's Chromium in the widget test (no browser download)
$(BROWSER_DRIVER): tests/browser/package.json tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

$(MODEL): $(STAMP) $(TRAIN_INPUTS)
	$(RASA) train --fixed-model-name atouts --out models --num-threads 2
	@touch $@

train: $(MODEL)

validate: $(STAMP)
	$(PY) -m bot.dialogue.interruptions check
	$(RASA) data validate --fail-on-warning

# data/rules/interruptions.yml from the table data/dialogue/interruptions.yml
rules: $(STAMP)
	$(PY) -m bot.dialogue.interruptions generate

run: setup $(MODEL)
	$(PY) -m bot.launcher

evaluate: setup $(MODEL)
	$(PY) -m bot.evaluation --model $(MODEL) --out results $(EVAL_ARGS)
	$(PY) -m tools.conversations --model $(MODEL) --out results

test-unit: $(STAMP)
	$(PY) -m pytest tests -m "not e2e" -q

test-stories: $(MODEL)
	$(RASA) test core --model $(MODEL) --stories tests/test_stories --fail-on-prediction-errors --out results/stories

test-e2e: setup $(BROWSER_DRIVER) $(MODEL)
	$(PY) -m pytest tests -m e2e -q

test: setup $(BROWSER_DRIVER) validate $(MODEL)
	$(PY) -m pytest tests -q
	$(MAKE) --no-print-directory test-stories

bench: setup $(MODEL)
	$(PY) -m bot.bench

# Conversation fuzzer (tools/fuzz.py): random walks on the real stack; fails on any finding.
WALKS ?= 500
CONCURRENCY ?= 3
SEED ?=
fuzz: setup $(MODEL)
	$(PY) -m tools.fuzz --walks $(WALKS) --concurrency $(CONCURRENCY) $(if $(SEED),--seed $(SEED))

OUT ?= badge-demo
review: $(STAMP)
	$(PY) -m bot.review export

review-apply: $(STAMP)
	$(PY) -m bot.review apply

badge-demo: $(STAMP)
	$(PY) -m bot.badges.demo --out $(OUT)

lint: validate
	$(PY) -m compileall -q bot actions channels tests tools

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^atouts' > constraints.txt.new && mv constraints.txt.new constraints.txt

lock-web:
	{ echo "# Full resolved set of the web app's environment (.venv-web, requirements-web.txt). Regenerate with 'make lock-web'."; \
	  $(WEB_VENV)/bin/python -m pip freeze; } > constraints-web.txt.new && mv constraints-web.txt.new constraints-web.txt

clean:
	rm -rf models results .rasa

# Safety layer: crisis detector, language guess and the real conversation over HTTP
# on the held-out sets of tests/heldout/ -> results/safety.{md,json}
evaluate-safety: setup $(MODEL)
	$(PY) -m bot.safety.evaluate --model $(MODEL) --out results
