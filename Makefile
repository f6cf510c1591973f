# Every target bootstraps what it needs, idempotently, on a fresh Debian machine:
# Debian packages (as root or through sudo) and a .venv with the toolkit installed editable.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
OCRE := $(VENV)/bin/ocre
# clang/lld/wasi-libc build containers; clang-19 adds the SDK's imported-memory style; wabt checks modules;
# qemu + arm-none-eabi run bare-metal test firmware; docker-registry is the loopback OCI registry for tests;
# device-tree-compiler parses generated overlays; skopeo is the other side of the cosign-signature tests;
# clang-format-19 checks the firmware glue against zephyr_app/.clang-format (Zephyr's style, needs >= 15).
# mosquitto is the fleet tests' MQTT broker; chromium + chromium-driver drive the fleet view in a real browser.
DEB_PACKAGES := clang lld wasi-libc libclang-rt-14-dev-wasm32 clang-19 lld-19 libclang-rt-19-dev-wasm32 \
	wabt qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi docker-registry device-tree-compiler skopeo \
	clang-format-19 python3-venv \
	mosquitto chromium chromium-driver
CLANG_FORMAT := clang-format-19
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP_DEB := $(VENV)/.deb-ok
STAMP_PY := $(VENV)/.py-ok

.PHONY: all setup compile demo test lint bench fuzz reliability clean
all: test

$(STAMP_DEB): Makefile
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

$(STAMP_PY): $(STAMP_DEB) pyproject.toml
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	@echo "installing the toolkit into $(VENV) (log: $(VENV)/pip.log)"
	@( $(PY) -m pip install -q --upgrade pip && \
	   $(PY) -m pip install -q -e '.[dev]' --config-settings editable_mode=compat ) >$(VENV)/pip.log 2>&1 \
	   || { cat $(VENV)/pip.log; exit 1; }
	@touch $@

# Byte-compile the package so start-up never compiles sources, even where PYTHONDONTWRITEBYTECODE is set.
compile: $(STAMP_PY)
	@$(PY) -m compileall -q ocre_py >/dev/null

setup: $(STAMP_PY) compile

# The main job on the embedded default: `west ocre deploy hello.wasm` with no board runs the container
# on the local Linux runtime (`ocre zephyr deploy` is the same command outside a west workspace).
demo: setup
	@mkdir -p build/demo
	$(OCRE) build examples/hello/hello.c -o build/demo/hello.wasm
	OCRE_HOME=$(CURDIR)/build/demo/home $(OCRE) zephyr deploy build/demo/hello.wasm -e GREETING=Hello -a world

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check ocre_py west_commands tests benchmarks fuzz
	$(VENV)/bin/ruff format --check ocre_py west_commands tests benchmarks fuzz
	$(CLANG_FORMAT) --dry-run --Werror $$(find zephyr_app/src -name '*.[ch]')
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m benchmarks.run

# Issue 7, long forms (CI runs the bounded forms in tests/hardening). Both rewrite docs/reliability.md.
FUZZ_SECONDS ?= 60
CRASH_ITERATIONS ?= 200
fuzz: setup
	$(PY) -m fuzz.run --seconds $(FUZZ_SECONDS)

reliability: setup
	$(PY) -m fuzz.run --seconds $(FUZZ_SECONDS) --no-report
	OCRE_RECORD_RELIABILITY=1 $(PY) -m pytest -q -p no:cacheprovider tests/hardening/test_hostile_numbers.py \
	  tests/hardening/test_image_faults.py
	$(PY) -m fuzz.crashkill --iterations $(CRASH_ITERATIONS)

clean:
	rm -rf build .pytest_cache .ruff_cache .mypy_cache
