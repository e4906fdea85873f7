# The websocket gateway and the web chat (docs/gateway.md).

.PHONY: test-gateway test-gateway-kafka gateway-dev

test-gateway: $(VENV)/.installed  ## unit tests of the gateway: hub, tokens, protocol, app over a fake bus, chat script
	$(PY) -m pytest tests/unit/gateway -q

test-gateway-kafka: $(VENV)/.installed  ## the gateway on the real broker (asks, routing, resume, two processes)
	$(PY) -m pytest tests/integration/test_gateway.py -q

gateway-dev: $(VENV)/.installed  ## run one gateway on AISLE_GATEWAY_HOST:PORT (until `aisle gateway` exists)
	$(PY) -c 'from pipeline.config import Settings; from pipeline.gateway import run; run(Settings.from_env())'
