# enforcegw: the two README commands (`make demo`, `make test`) plus bench and lint.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
TORCH       ?= 2.14.1
TORCHVISION ?= 0.29.1

.PHONY: demo test bench lint venv clean tools buildtools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# setup.py builds the optional C accelerator (evidence/audit/_scan.c) in place; without a C compiler, Python
# headers or OpenSSL headers it is skipped with a warning and the audit runs its pure-Python paths.
$(STAMP): pyproject.toml setup.py evidence/audit/_scan.c | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	@# torch first, pinned: with pip on this project's machines it comes from local disk; a plain `torch`
	@# requirement would fetch another build. Users online get the same pinned release.
	@$(BIN)/python -c "import torch, torchvision" 2>/dev/null || \
	  $(BIN)/pip install --quiet torch==$(TORCH) torchvision==$(TORCHVISION)
	$(BIN)/pip install --quiet -e '.[dev,video,vision]'
	@# ultralytics and rapidocr pull opencv-python over the headless build: put the headless one back on top
	$(BIN)/pip install --quiet --force-reinstall --no-deps "opencv-python-headless>=4.9,<5"
	@touch $(STAMP)

venv: $(STAMP)

# Mosquitto is a test dependency (tests that load a broker start their own); install it when missing.
tools:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && apt-get install -y -qq mosquitto >/dev/null) || \
	    echo "mosquitto not installed: broker tests will be skipped"; }
	@# Video source tests serve streams with Debian's ffmpeg (RTMP/HTTP-FLV/HLS servers of its own).
	@command -v ffmpeg >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null) || \
	    echo "ffmpeg not installed: stream server tests will be skipped"; }
	@# RTSP tests serve streams with GStreamer's RTSP server through Debian's python3-gi.
	@{ [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && apt-get install -y -qq python3-gi gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0 \
	     gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad >/dev/null) || \
	    echo "GStreamer RTSP server not installed: RTSP tests will be skipped"; }
	@# The console's browser tests drive Debian's Chromium through Playwright (its own browser download needs the
	@# internet); Noto CJK so Chinese renders in the screenshots.
	@{ command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/opentype/noto ]; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) || \
	    echo "chromium not installed: browser tests will be skipped"; }

# The audit's C accelerator needs a C compiler and the OpenSSL and Python headers: `make test` installs them when
# missing and it may (root with apt-get), so the suite tests the C code too; `make demo` never installs them.
buildtools:
	@{ command -v cc >/dev/null 2>&1 && [ -e /usr/include/openssl/evp.h ] && \
	   $(PYTHON) -c "import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    apt-get install -y -qq gcc libc6-dev libssl-dev >/dev/null && \
	    { apt-get install -y -qq $$(basename $(PYTHON))-dev >/dev/null 2>&1 || apt-get install -y -qq python3-dev >/dev/null; }; } || \
	  echo "C build tools missing: the audit's C accelerator is not built (the audit runs pure Python)"

## The main job: embedded PostgreSQL + embedded MQTT broker, synthetic patrol and sensors, live summary.
demo: $(STAMP)
	$(BIN)/enforcegw demo

## The whole suite against real PostgreSQL and MQTT (the local servers when their ports answer).
test: buildtools $(STAMP) tools
	@ENFORCEGW_TEST_DATABASE_URL="$${ENFORCEGW_TEST_DATABASE_URL:-$$(bash .ci/detect-services db)}" \
	 ENFORCEGW_TEST_MQTT_URL="$${ENFORCEGW_TEST_MQTT_URL:-$$(bash .ci/detect-services mqtt)}" \
	 $(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	@for b in bench/*_bench.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
