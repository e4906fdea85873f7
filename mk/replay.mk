# Record, replay and answer evaluation (docs/replay.md).

.PHONY: test-replay test-replay-kafka replay-sample eval-answers

test-replay: $(VENV)/.installed  ## unit tests: traffic format, report, compare, ROUGE-L, answer scoring, AISLE_RECORD
	$(PY) -m pytest tests/unit/replay tests/unit/eval/test_text_metrics.py tests/unit/eval/test_answers.py -q

test-replay-kafka: $(VENV)/.installed  ## record from the topics, and a 3-turn replay through the pipeline (needs llm-up)
	$(PY) -m pytest tests/integration/test_replay.py -q

replay-sample: $(VENV)/.installed  ## replay docs/traffic/sample.jsonl against the running pipeline (make run first)
	$(VENV)/bin/aisle replay docs/traffic/sample.jsonl --speed 2 --concurrency 4

eval-answers: $(VENV)/.installed  ## answer quality on all visible ePQA questions and review summaries (make run first; ~30 min)
	$(VENV)/bin/aisle eval answers --set all --concurrency 2 --out docs/eval/answers_tuned.json
