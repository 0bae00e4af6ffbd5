# Two entry points: `make run` (install + launch the explorer) and `make test` (install + headless suite,
# with the quick fuzz profile); `make fuzz` runs the long fuzz profile.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := xvfb xauth libgl1 libegl1 libgl1-mesa-dri libglib2.0-0 libdbus-1-3 libfontconfig1 \
	libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
	libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xkb1
XVFB := xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb

.PHONY: run test install apt bench fuzz clean

run: $(STAMP)
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then echo "No display found: running the window under Xvfb (make run ARGS='--screenshot out.png' saves a picture of it)."; $(MAKE) --no-print-directory apt; $(XVFB) $(PY) main.py $(ARGS); else $(PY) main.py $(ARGS); fi

test: $(STAMP) apt
	$(XVFB) $(PY) -m pytest -q $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# Installs only the Debian packages that are missing; sudo only when not root.
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# The long fuzz profile: 10,000+ mutated inputs of every format, then a table (tests/fuzz/run.py).
fuzz: $(STAMP)
	$(PY) tests/fuzz/run.py --cases $(or $(CASES),10000) --workers $(or $(WORKERS),2)

bench: $(STAMP)
	for b in benchmarks/*.py; do $(PY) $$b; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
