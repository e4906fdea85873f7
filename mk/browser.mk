# Browser tests: Debian's Chromium driven by Playwright (tests/browser, docs/clients.md).
# Playwright's own browser download (`playwright install`) is never used: the tests launch /usr/bin/chromium.

.PHONY: browser-deps test-browser

browser-deps: $(VENV)/.installed  ## Debian chromium (+ an emoji font for the thumbs) and the playwright package in the venv
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'color emoji'; then \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update && \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y chromium fonts-noto-color-emoji; fi
	$(PY) -m pip install --quiet 'playwright>=1.48'

test-browser: $(VENV)/.installed  ## the web chat in headless Chromium against a real gateway and broker; screenshot in test-artifacts/
	$(PY) -m pytest tests/browser -q
