# The display markup and the hydrate/render cores (docs/markup.md).

.PHONY: test-markup markup-grammar

test-markup: $(VENV)/.installed  ## unit tests of the markup parser, grammar, hydrate and render cores
	$(PY) -m pytest tests/unit/markup tests/unit/stages/test_hydrate.py tests/unit/stages/test_render.py -q

markup-grammar: $(VENV)/.installed  ## print the GBNF generation grammar for IDS="B07...,B08..."
	@$(PY) -c 'import sys; from pipeline.markup.grammar import build_gbnf; sys.stdout.write(build_gbnf(sys.argv[1].split(",") if sys.argv[1] else []))' "$(IDS)"
