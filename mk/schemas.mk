# ---- Avro contracts: schemas/*.avsc, frozen versions in schemas/history/ (docs/schemas.md) -------

.PHONY: schemas-freeze schemas-check bench-codec

schemas-freeze: $(VENV)/.installed  ## snapshot changed schemas into schemas/history/ (refuses incompatible ones)
	$(PY) -m pipeline.schemas freeze schemas

schemas-check: $(VENV)/.installed  ## schema and codec tests: contracts match messages.py, stay backward compatible
	$(PY) -m pytest tests/unit/test_schemas.py tests/unit/test_codec.py -q

bench-codec: $(VENV)/.installed  ## encode/decode microseconds per message, fastavro vs the avro package
	$(PY) -m bench.codec
