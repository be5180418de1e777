# Tessera Studio: `make run` and `make test` set everything up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO ?= demo-project
# Qt's runtime libraries on a bare Debian/Ubuntu (see DESIGN.md).
SYSLIBS := libgl1 libegl1 libfontconfig1 libglib2.0-0 libxkbcommon0 libdbus-1-3 fonts-dejavu-core \
	libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
export QT_QPA_PLATFORM ?= offscreen

.PHONY: run test test-fast setup system-deps demo bench clean screenshots package

run: setup
	@if test -f $(DEMO)/project.db; then $(VENV)/bin/tessera info $(DEMO); \
	else $(VENV)/bin/tessera demo $(DEMO) --size full; fi
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then env -u QT_QPA_PLATFORM $(VENV)/bin/tessera gui $(DEMO); \
	else echo "no display here: on a desktop, 'make run' opens the studio (or: .venv/bin/tessera gui $(DEMO))"; fi

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

setup: $(STAMP)

# The one-folder app in dist/tessera/ (PyInstaller; packaging/README.md): the
# `tessera` binary there is the studio, the CLI and the worker.
package: setup
	$(PY) -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
	  packaging/tessera.spec
	@echo "dist/tessera/ ($$(du -sh dist/tessera | cut -f1)): run dist/tessera/tessera;" \
	  "sh packaging/linux/install.sh dist/tessera adds it to the desktop's menu"

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

system-deps:
	@if command -v dpkg >/dev/null 2>&1; then \
	  missing=""; for p in $(SYSLIBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing system libraries:$$missing"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	    else echo "note: missing system libraries for the GUI:$$missing (sudo apt-get install$$missing)"; fi; \
	  fi; \
	fi

# The real window under Xvfb (xcb, not offscreen), one PNG per view, into docs/screenshots/.
XVFB_DEBS := xvfb xauth libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
XVFB = QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24"
SHOT = $(XVFB) $(VENV)/bin/tessera gui $(DEMO)
screenshots: setup
	@command -v xvfb-run >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(XVFB_DEBS); }
	@test -f $(DEMO)/project.db || $(VENV)/bin/tessera demo $(DEMO) --size full
	@mkdir -p docs/screenshots
	$(XVFB) $(VENV)/bin/tessera gui --screenshot docs/screenshots/welcome.png
	$(SHOT) --about --screenshot docs/screenshots/about.png
	$(SHOT) --screenshot docs/screenshots/demo.png
	$(SHOT) --image large.tif --screenshot docs/screenshots/large-overview.png
	$(SHOT) --image large.tif --zoom 0.8 --center 10000,10000 --screenshot docs/screenshots/large-zoom.png
	$(SHOT) --image demo-corridor_0/000003.jpg --zoom 0.45 --center 3100,240 --screenshot docs/screenshots/panorama.png
	$(SHOT) --image Val/Urban/32.png --screenshot docs/screenshots/segmentation-tile.png
	$(SHOT) --image large.tif --zoom 3 --center 10090,9880 --select 5363 --screenshot docs/screenshots/vertex-editing.png
	$(SHOT) --shortcuts --screenshot docs/screenshots/shortcuts.png
	$(SHOT) --train segmentation --set architecture=unet --set encoder=resnet18 --set image_size=256 \
	  --set epochs=30 --set learning_rate=0.003 --set workers=0 --shot-epochs 8 \
	  --screenshot docs/screenshots/training-run.png
	$(SHOT) --training --screenshot docs/screenshots/training-history.png
	$(SHOT) --train pairs-stage1 --set image_size=64 --set epochs=12 --set workers=0 --shot-epochs 5 \
	  --screenshot docs/screenshots/pairs-training.png
	@$(PY) -c "import sys; from core.project import Project; p = Project.open('$(DEMO)'); \
	  sys.exit(len(p.jobs.models('segmentation')) < 2)" || for arch in unet fpn; do \
	  $(VENV)/bin/tessera train $(DEMO) --pipeline segmentation --set architecture=$$arch --set encoder=resnet18 \
	    --set image_size=256 --set epochs=6 --set learning_rate=0.003 --set workers=0; done
	$(SHOT) --compare-newest 2 --screenshot docs/screenshots/model-comparison.png
	@$(PY) -c "import sys; from core.project import Project; p = Project.open('$(DEMO)'); \
	  sys.exit(not p.jobs.models('detection'))" || $(VENV)/bin/tessera train $(DEMO) --pipeline detection \
	  --set epochs=15 --set image_size=160 --set batch_size=8 --set workers=0 --set close_mosaic=3 \
	  --set learning_rate=0.002
	$(VENV)/bin/tessera score $(DEMO) --method entropy --subset 'names=dive*' --conf 0.1 --model $$($(PY) -c \
	  "from core.project import Project; print(Project.open('$(DEMO)').jobs.models('detection')[-1].id)") > /dev/null
	$(SHOT) --queue --screenshot docs/screenshots/active-queue.png
	$(SHOT) --export-model $$($(PY) -c "from core.project import Project; \
	  print(Project.open('$(DEMO)').jobs.models('detection')[-1].id)") --screenshot docs/screenshots/export-dialog.png
	@ls -1 docs/screenshots

demo: setup
	$(VENV)/bin/tessera demo $(DEMO) --size full

bench: setup
	$(PY) bench/store.py

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
