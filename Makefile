# Quick start: `make run` (set up, build the dataset, train the baseline, tag the sample feed), `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, pinned: this exact release is a local CPU build; an open range pulls CUDA wheels.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed
# The model `make run` trains and tags with; TF-IDF stays the baseline either way.
DEFAULT ?= tfidf
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: run install java chromium data train train-minilm train-static train-multilingual tag-sample report-sample test lint bench results clean

run: install data train tag-sample report-sample

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[transformer,static,multilingual,spark,dev]'
	touch $(STAMP)

data: install
	$(BIN)/alignclf data build --config configs/data.yaml

train: install
	$(BIN)/python train.py --config configs/$(DEFAULT).yaml

train-minilm: install
	$(BIN)/python train.py --config configs/minilm.yaml

train-static: install
	$(BIN)/python train.py --config configs/static.yaml

# The multilingual model, and models/router/: English to the default model, Russian and Chinese to the
# multilingual one (the languages it was trained on).
train-multilingual: install
	$(BIN)/python train.py --config configs/multilingual.yaml
	$(BIN)/python -c "from alignclf.routing import write_router; write_router('models/router', ['models/$(DEFAULT)', 'models/multilingual'])"

tag-sample: install
	@mkdir -p out
	$(BIN)/alignclf tag data/samples/feed.xml --keep text -o out/sample_tags.jsonl

report-sample: install
	$(BIN)/alignclf report out/sample_tags.jsonl -o out/report.html
	@echo "report: $(CURDIR)/out/report.html"

# PySpark needs Java 17+; Debian's headless JRE is installed when it is missing.
java:
	@java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' || \
	  { echo "installing openjdk-17-jre-headless for PySpark"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

# The report's browser test needs Chromium and its driver; Debian's packages are installed when missing.
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { echo "installing chromium and chromium-driver for the report's browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: install java chromium
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check --no-cache src tests benchmarks train.py conftest.py
	$(BIN)/ruff format --no-cache --check src tests benchmarks train.py conftest.py

# Every benchmark writes its table to benchmarks/results/; `make results` copies them into the README.
bench: install java
	$(BIN)/python benchmarks/data.py
	$(BIN)/python benchmarks/splitter.py
	$(BIN)/python benchmarks/training.py configs/tfidf.yaml configs/static.yaml configs/minilm.yaml configs/multilingual.yaml
	$(BIN)/python benchmarks/designs.py --config configs/tfidf.yaml
	$(BIN)/python benchmarks/models.py models/tfidf models/static models/minilm models/multilingual
	$(BIN)/python benchmarks/encoders.py
	$(BIN)/python benchmarks/throughput.py --folders models/tfidf models/static models/minilm models/multilingual
	$(BIN)/python benchmarks/tagging.py --models models/tfidf models/tfidf@2 models/static models/static@2 models/minilm models/router --resume-check models/tfidf
	$(BIN)/python benchmarks/serve.py --models models/tfidf models/minilm
	$(BIN)/python benchmarks/engines.py
	$(BIN)/python benchmarks/report.py

results: install
	$(BIN)/python benchmarks/readme.py

clean:
	rm -rf data/processed out mlruns mlflow.db models/*/ models/.*.partial models/.*.checkpoints
