# The query planner: rules, history resolution, the LLM path and its fallback (docs/planner.md).

.PHONY: test-planner eval-planner

test-planner: $(VENV)/.installed  ## unit tests of the planner cores and the plan stage
	$(PY) -m pytest tests/unit/planner tests/unit/stages/test_plan.py -q

eval-planner: $(VENV)/.installed  ## planner accuracy per intent and latency; MODE=all|rules|rules+embed|auto|llm
	$(PY) -m pipeline.eval.planner $(or $(MODE),all)
