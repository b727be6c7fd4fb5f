# Fashion GAN Lab. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PRESET ?= quick
APP ?= dcgan
PROFILE ?= quick

# Offline-safe defaults: data and caches inside the repo, no telemetry,
# and the Hub switched off unless a token says you mean to use it.
export DATA_ROOT ?= data
export HF_HOME ?= $(CURDIR)/.cache/huggingface
export TORCH_HOME ?= $(CURDIR)/.cache/torch
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
ifeq ($(strip $(HF_TOKEN)),)
export HF_HUB_OFFLINE ?= 1
endif

.PHONY: browser help install test train onnx bench publish-results dashboard demo index spaces lint clean distclean

help:
	@echo "make install   virtualenv in $(VENV) (rebuilt only when requirements change)"
	@echo "make test      the test suite (installs first, and chromium for the browser tests where it can)"
	@echo "make browser   install Debian's chromium for the browser tests if missing (root, apt-get)"
	@echo "make train     train and export the shipped models, each with its own preset (PRESET=smoke|quick|full for all; MODELS=... for some)"
	@echo "make onnx      export every shipped model to pretrained/<name>/model.onnx, parity with PyTorch in its card (BACKEND=onnx serves them)"
	@echo "make bench     run every benchmark (PROFILE=quick|full), append rows to results/, write results/summary.md"
	@echo "make publish-results REPO_ID=you/name   upload results/ to a Hub dataset repo"
	@echo "make dashboard the Streamlit dashboard of results/ (RESULTS_SOURCE=folder or Hub dataset id)"
	@echo "make demo      launch a Gradio Space locally (APP=dcgan|robustness|cocogan|collection|progan|translate|edit_search)"
	@echo "make index     the retrieval index of the clothing train photos (indexes/clothing-train; python -m core search uses it)"
	@echo "make spaces    assemble every Space into dist/spaces/<name>/, ready to push (building the index first if missing)"
	@echo "make lint      ruff"
	@echo "make clean     remove runs/, dist/ and caches (keeps $(VENV)); distclean also removes $(VENV)"

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# --no-cache-dir: torch's CUDA wheels are several GB; a second copy in pip's cache can fill a small disk.
	$(PY) -m pip install --quiet --no-cache-dir -r requirements.txt -r requirements-dev.txt
	# torchattacks (the tests' independent attack implementation) pins requests~=2.25,
	# which the Hub client cannot use; it needs only torch and scipy, so skip its pins.
	$(PY) -m pip install --quiet --no-cache-dir --no-deps torchattacks==3.5.1
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: install browser
	$(PY) -m pytest -q

# The browser tests drive the system's chromium (Playwright cannot download its own browser offline):
# Debian's package where it is missing and can be installed; without one they are skipped, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    { DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	      { timeout 300 apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; }; }; } || \
	  echo "no chromium here (apt-get install chromium): the browser tests will be skipped"

# Every shipped model: recipe name = pretrained/ folder name, and `@preset` where it was not trained with
# `quick` (cocogan-clothing-64: `full`, 17 minutes on an H200). A PRESET given to make overrides them all.
# The classic collection's recipes train 10 epochs (quick: the reference budget) with snapshots after 1, 5, 10.
COLLECTION := gan cgan acgan infogan wgan wgan-gp dragan lsgan began ebgan
MODELS ?= dcgan-fashion-mnist dcgan-clothing-64 classifier-dense-fashion-mnist classifier-conv-fashion-mnist \
	classifier-conv-adv-fashion-mnist features-fashion-mnist classifier-clothing-64 cocogan-fashion-mnist-32 \
	cocogan-clothing-64@full $(addsuffix -fashion-mnist,$(COLLECTION)) progan-fashion-mnist-32 progan-clothing-64 \
	ddpm-fashion-mnist-32 $(TRANSLATORS)
# Image-to-image on the clothing photos: the translators and the L1-only U-Nets of the paired tasks (their baselines),
# and the Fader network that edits colour and class.
TRANSLATORS := pix2pix-edges2clothing-64 pix2pix-mask2clothing-64 colorize-clothing-64 unet-l1-edges2clothing-64 \
	unet-l1-mask2clothing-64 unet-l1-colorize-clothing-64 cyclegan-tshirt2longsleeve-64 munit-tshirt2longsleeve-64 \
	stargan-clothing-64 fader-clothing-64

train: install
	@for model in $(MODELS); do \
		recipe=$${model%@*}; preset=$(PRESET); \
		$(if $(filter file,$(origin PRESET)),[[ $$model == *@* ]] && preset=$${model#*@};) \
		$(PY) -m core train --recipe $$recipe --preset $$preset --run-dir runs/$$recipe-$$preset --export $$recipe || exit $$?; \
	done

# model.onnx beside every shipped model's weights (and its ProGAN stage snapshots), checked against PyTorch at
# batch 1 and 64, then the cards re-rendered with the figures. About 40 s on 2 CPU cores; not committed (they would
# double pretrained/): BACKEND=onnx Spaces and `make demo` need it run first.
onnx: install
	$(PY) -m core export-onnx --all; status=$$?; \
	$(PY) -m core card $(wildcard pretrained/*/) && exit $$status

bench: install
	$(PY) -m benchmarks run --profile $(PROFILE); status=$$?; \
	$(PY) -m core card $(wildcard pretrained/*/) && exit $$status

publish-results: install
	@test -n "$(REPO_ID)" || { echo "usage: make publish-results REPO_ID=you/fashion-gan-lab-results"; exit 2; }
	$(PY) -m benchmarks publish --repo-id $(REPO_ID)

dashboard: install
	$(PY) -m streamlit run apps/dashboard/app.py --server.headless true

demo: install
	$(PY) -m apps.$(APP).app

# The retrieval index the edit_search Space ships (the clothing train photos by classifier-clothing-64).
index: install
	$(PY) -m core index

spaces: install
	@test -f indexes/clothing-train/index.json || $(PY) -m core index || \
	  echo "note: no index built here: the edit_search Space builds it on first start"
	$(PY) -m apps.build_spaces

lint: install
	$(PY) -m ruff check core benchmarks apps tests

clean:
	rm -rf runs dist .cache/fashion-gan-lab .pytest_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .cache
