# ---- The store: SQLite + deterministic simulator (docs/store.md) ---------------------------------

.PHONY: store-test

store-test: $(VENV)/.installed  ## catalog reader and store tests (temp SQLite files, no servers)
	$(PY) -m pytest tests/unit/test_catalog.py tests/unit/store -q
