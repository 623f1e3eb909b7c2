# Every target is a one-liner that delegates; the venv and the model build themselves on demand.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DEMO    := models/demo/manifest.json
ARCH    ?= monolith
# The image's base; `make base-image` builds this one locally (no registry needed).
BASE    ?= archbench/bookworm-python:3.11

.PHONY: install model browser up test lint bench bench-quick bench-full ui microbench perf loadperf soak lock clean base-image image wheelhouse

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PY) -m venv $(VENV) && $(BIN)/pip install -q --disable-pip-version-check --require-hashes -r requirements.lock && $(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . && touch $@

model: $(DEMO)

$(DEMO): $(STAMP) pipeline/train.py pipeline/bundler.py pipeline/bundle.py pipeline/schema.py
	$(BIN)/archbench train

up: model
	$(BIN)/archbench up $(ARCH) $(if $(MODEL),--model $(MODEL))

# The report's tests open it in a real browser: Debian's chromium, installed when missing.
browser:
	@command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

test: model browser
	$(BIN)/pytest

bench: model
	$(BIN)/archbench bench $(if $(MODEL),--model $(MODEL))

bench-quick: model
	$(BIN)/archbench bench --quick

bench-full: model
	$(BIN)/archbench bench --profile full

ui: model
	$(BIN)/archbench ui --arch $(ARCH) $(if $(MODEL),--model $(MODEL)) $(if $(WORKERS),--workers $(WORKERS))

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy pipeline serving monolith microservices stack archbench bench

microbench: model
	$(BIN)/archbench microbench $(if $(MODEL),--model-dir $(MODEL))

perf: model
	$(BIN)/archbench perf

loadperf: model
	$(BIN)/archbench loadperf

soak: model
	$(BIN)/archbench soak --arch $(ARCH) $(if $(MODEL),--model $(MODEL))

# The runtime lock is the full lock's subset the image needs: same versions, no dev tools.
lock:
	uv pip compile --python 3.11 --generate-hashes --extra dev pyproject.toml -o requirements.lock && uv pip compile --python 3.11 --generate-hashes --constraint requirements.lock pyproject.toml -o requirements.runtime.lock

base-image:
	image/base-image.sh $(BASE)

wheelhouse: build/wheelhouse/requirements.lock

build/wheelhouse/requirements.lock: requirements.runtime.lock image/wheelhouse.py
	$(PY) image/wheelhouse.py requirements.runtime.lock build/wheelhouse

image: wheelhouse
	docker build --network none --build-arg BASE=$(BASE) -t archbench:latest .

clean:
	rm -rf $(VENV) models
