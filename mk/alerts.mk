# ---- price alerts, actions, feedback aggregation (docs/alerts.md, docs/actions.md) ---------------

.PHONY: alerts-test alerts-test-kafka

alerts-test: $(VENV)/.installed  ## unit tests: alert registry, phrases, actions guard, feedback aggregate
	$(PY) -m pytest tests/unit/alerts tests/unit/actions tests/unit/feedback -q

alerts-test-kafka: $(VENV)/.installed  ## alerts on the real broker: fire, SIGKILL, restart, exactly once
	$(PY) -m pytest tests/integration/test_alerts.py -q
