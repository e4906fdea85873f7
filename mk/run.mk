# ---- The whole system on its embedded defaults: `make run`, `make stop` ---------------------------
# Order matters: the broker and the LLM first (their own scripts wait for readiness), then the
# catalog into the store and the index (skipped when current), then the workers and the gateway.

.PHONY: run stop status

run: setup kafka-up llm-up  ## bring up Kafka, vLLM, the store and index, every stage and the gateway; print the URL
	$(AISLE) ingest
	$(AISLE) up

stop:  ## stop the gateway and workers (gracefully), then vLLM and Kafka
	-$(AISLE) down
	-$(MAKE) llm-down
	-$(MAKE) kafka-down

status: $(VENV)/.installed  ## health of every part and each stage's consumer lag
	$(AISLE) status
