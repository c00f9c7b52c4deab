# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
# Where the server listens: `make run` on 127.0.0.1 unless ADDRESS=0.0.0.0 (every interface);
# `make serve` on every interface unless ADDRESS names one.
ADDRESS ?=
# `make serve`: this many Streamlit processes behind HAProxy on PORT (default: one per core).
REPLICAS  ?= $(shell nproc 2>/dev/null || echo 2)
# PREPARE=0: skip building the large networks' default weights into the store at start.
PREPARE   ?= 1
SERVE_DIR := build/serve
# `make serve` speaks HTTPS on PORT, and on HTTP_PORT redirects plain HTTP there (0: no
# redirector); TLS=0 serves plain HTTP on PORT. The certificate: TLS_CERT (chain, PEM) and
# TLS_KEY (its key; default: inside TLS_CERT), else a self-signed one kept in TLS_DIR.
TLS       ?= 1
HTTP_PORT ?= 8080
TLS_CERT  ?=
TLS_KEY   ?=
TLS_DIR   ?= $(SERVE_DIR)
# Per client address, beyond which HAProxy answers 429 (empty: explorer.serving's defaults):
# connections open at once, requests in 10 s besides /static/ files, and all requests in 10 s.
CLIENT_CONNS    ?=
CLIENT_RATE     ?=
CLIENT_ALL_RATE ?=

.PHONY: run serve serve-tools db-tools test lint bench sweep browser fonts axe messages clean gpu-check

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when the requirements change.
$(VENV)/.runtime-installed: requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-installed: requirements-test.txt $(VENV)/.runtime-installed
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

# MALLOC_ARENA_MAX: see "What one process costs" in docs/serving.md (make serve sets it too).
run: $(VENV)/.runtime-installed fonts
	MALLOC_ARENA_MAX=2 $(PY) -m streamlit run explorer/app.py --server.port $(PORT) \
		--server.address $(or $(ADDRESS),127.0.0.1)

# A classroom: REPLICAS Streamlit processes on loopback ports PORT+1.., HAProxy on PORT
# (HTTPS, sticky by cookie, health-checked, limits per client), all run by supervisord, which
# restarts a process that dies and stops everything on Ctrl-C. Configs, logs, sockets and the
# certificate go to build/serve/.
serve: $(VENV)/.runtime-installed serve-tools fonts
	$(PY) -m explorer.serving --port $(PORT) --replicas $(REPLICAS) --run-dir $(SERVE_DIR) \
		$(if $(filter 0,$(PREPARE)),--no-prepare) $(if $(ADDRESS),--bind $(ADDRESS)) \
		$(if $(filter 0,$(TLS)),--no-tls) --http-port $(HTTP_PORT) --tls-dir $(TLS_DIR) \
		$(if $(TLS_CERT),--tls-cert $(TLS_CERT)) $(if $(TLS_KEY),--tls-key $(TLS_KEY)) \
		$(if $(CLIENT_CONNS),--client-conns $(CLIENT_CONNS)) \
		$(if $(CLIENT_RATE),--client-rate $(CLIENT_RATE)) \
		$(if $(CLIENT_ALL_RATE),--client-all-rate $(CLIENT_ALL_RATE))
	exec $$(PATH="$$PATH:/usr/sbin:$(CURDIR)/$(VENV)/bin" command -v supervisord) \
		-n -c $(SERVE_DIR)/supervisord.conf

# HAProxy, supervisor and openssl (for the self-signed certificate) from the Debian archive
# as root (the way `browser` gets Chromium); elsewhere supervisor from pip into the venv, and
# HAProxy and openssl from the system's packages.
serve-tools: | $(PY)
	@if PATH="$$PATH:/usr/sbin" command -v haproxy >/dev/null 2>&1 \
		&& PATH="$$PATH:$(VENV)/bin" command -v supervisord >/dev/null 2>&1 \
		&& command -v openssl >/dev/null 2>&1; then \
		echo "haproxy: $$(PATH="$$PATH:/usr/sbin" command -v haproxy)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			haproxy supervisor openssl; \
	else \
		$(PY) -m pip install --quiet supervisor; \
		PATH="$$PATH:/usr/sbin" command -v haproxy >/dev/null 2>&1 \
			|| echo "no haproxy: install it (apt-get install haproxy) for make serve"; \
		command -v openssl >/dev/null 2>&1 \
			|| echo "no openssl: install it for make serve's HTTPS, or make serve TLS=0"; \
	fi

# PostgreSQL from the Debian archive as root, for the class store's tests against a real server
# (tests/postgres.py starts one with pg_ctl in a temporary folder); elsewhere a note.
db-tools:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; \
	then echo "postgresql: $$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n 1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	else \
		echo "no postgresql: install it (apt-get install postgresql) for the class store's tests"; \
	fi

# A Chromium for the browser tests: Debian's package as root, else Playwright's own download.
browser: $(VENV)/.test-installed fonts  # Chromium draws Chinese with the same CJK font
	@if [ -n "$$CHROMIUM_PATH" ] || command -v chromium >/dev/null 2>&1; then \
		echo "chromium: $$(command -v chromium || echo $$CHROMIUM_PATH)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		$(PY) -m playwright install chromium; \
	fi

# A font with Chinese glyphs, for Chinese text drawn into pictures (explorer/figures/fonts.py)
# and for Chromium: Debian's fonts-noto-cjk as root, else a note on what to install.
fonts:
	@if command -v fc-list >/dev/null 2>&1 && [ -n "$$(fc-list :lang=zh file)" ]; then \
		echo "CJK font: $$(fc-list :lang=zh file | head -n 1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			fonts-noto-cjk fontconfig; \
	else \
		echo "no CJK font: install fonts-noto-cjk (or fonts-wqy-microhei) for Chinese labels"; \
	fi

# axe-core for the accessibility test (tests/e2e/test_accessibility.py), from the npm
# registry into build/axe/; without npm a note, and that test skips.
AXE_VERSION := 4.14.1
AXE_DIR     := build/axe/node_modules/axe-core
axe:
	@if grep -qs '"version": "$(AXE_VERSION)"' $(AXE_DIR)/package.json; then \
		echo "axe-core $(AXE_VERSION): $(AXE_DIR)/axe.min.js"; \
	elif command -v npm >/dev/null 2>&1; then \
		npm install --no-save --no-audit --no-fund --prefix build/axe axe-core@$(AXE_VERSION); \
	else \
		echo "no npm: install Node.js (apt-get install npm) for the accessibility test"; \
	fi

# The Chinese catalog after code changes: extract every _() / N_() / ngettext() (babel.cfg),
# merge into explorer/locale/zh/LC_MESSAGES/messages.po; then translate the new entries.
messages: $(VENV)/.runtime-installed
	mkdir -p build
	$(VENV)/bin/pybabel extract -F babel.cfg --add-location=file -w 100 --omit-header \
		-o build/messages.pot .
	$(VENV)/bin/pybabel update -i build/messages.pot -d explorer/locale -D messages -l zh \
		-w 100 --no-fuzzy-matching --ignore-obsolete

lint: $(VENV)/.test-installed
	$(PY) -m ruff check .

# Two pytest workers (pytest-xdist), a test file each at a time: the browser tests spend most
# of their time waiting on a server or a page, so two run in about 7 minutes what one ran in 11.
TEST_WORKERS ?= 2
test: $(VENV)/.test-installed browser fonts serve-tools db-tools axe lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# Every benchmark exits non-zero when its bar is not met: all run, then the failures are named.
bench: $(VENV)/.test-installed
	@failed=""; for f in bench/*.py; do echo "== $$f"; $(PY) $$f || failed="$$failed $$f"; done; \
	if [ -n "$$failed" ]; then echo "bars not met:$$failed"; exit 1; fi; echo "every bar met"

# What the engine gets out of this machine's GPU (docs/training.md, "A GPU check"): needs only
# Python, torch and torchvision, not the venv; the report goes to OUT (build/gpu-check).
OUT ?= build/gpu-check
gpu-check:
	$(PYTHON) bench/gpu.py --out $(OUT)

# The long sweep of every page (tests/test_sweep.py; `make test` runs its short profile):
# many more photos and widget orders, and every option of every widget on two photos.
sweep: $(VENV)/.test-installed
	SWEEP_PROFILE=sweep-long $(PY) -m pytest tests/test_sweep.py -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/e2e/screenshots
