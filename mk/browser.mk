# Browser tests: Debian's Chromium driven by Playwright (tests/browser, docs/clients.md).
# Playwright's own browser download (`playwright install`) is never used: the tests launch /usr/bin/chromium.

.PHONY: browser-deps test-browser axe-core docs-screenshots

# axe-core (MPL-2.0, Deque) runs inside the page in the accessibility test. It comes from the npm
# registry into an ignored folder, never from a CDN; the test injects build/axe/.../axe.min.js itself.
AXE_VERSION := 4.10.3
AXE_JS := build/axe/node_modules/axe-core/axe.min.js

axe-core: $(AXE_JS)  ## axe-core from npm into build/axe/ (for the browser tests' accessibility check)
$(AXE_JS):
	npm install --silent --no-audit --no-fund --prefix build/axe axe-core@$(AXE_VERSION)

browser-deps: $(VENV)/.installed $(AXE_JS)  ## Debian chromium (+ an emoji font for the thumbs), the playwright package in the venv, axe-core
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'color emoji'; then \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update && \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y chromium fonts-noto-color-emoji; fi
	$(PY) -m pip install --quiet 'playwright>=1.48'

test-browser: $(VENV)/.installed  ## the web chat in headless Chromium against a real gateway and broker; screenshot in test-artifacts/
	$(PY) -m pytest tests/browser -q

docs-screenshots:  ## copy the browser tests' screenshots used by docs/clients.md into docs/img/ (run test-browser first)
	cp test-artifacts/product-view.png test-artifacts/product-view-phone.png test-artifacts/web-chat-phone.png \
		test-artifacts/you-panel-phone.png docs/img/
