# Thin wrapper over CMake. `make run` and `make test` each work alone on a
# fresh Debian 12 machine: they install what is missing, build, then act.

BUILD    ?= build
JOBS     ?= 2
CMAKE_FLAGS ?=
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build, the tests and the daemon need.
DEPS := build-essential cmake pkg-config libzmq3-dev libczmq-dev liblmdb-dev \
        libmsgpack-dev libsodium-dev libjansson-dev libcmocka-dev libcurl4-openssl-dev \
        libsystemd-dev libmicrohttpd-dev libncurses-dev tzdata iso-codes \
        python3 python3-zmq python3-msgpack lmdb-utils tmux
# make deb (CPack's DEB generator: dpkg-shlibdeps, file; lintian checks the packages in
# tests/it_deb.py) and the man pages' check (groff).
DEPS += dpkg-dev file groff-base lintian
# The dashboard's browser test (tests/it_dashboard.py): Debian's headless Chromium, a font for
# the Chinese names in its screenshots, and Node.js with npm for playwright-core (`npm ci` at
# test time). A node and npm already on PATH are used as they are (NodeSource's nodejs carries
# its own npm and conflicts with Debian's).
DEPS += chromium fonts-wqy-microhei
NODE_DEPS := nodejs npm

.PHONY: all deps build run test deb deb-packages sanitize fuzz bench clean format

all: build

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q 'install ok installed' || echo $$p; done); \
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	    missing="$$missing $(NODE_DEPS)"; fi; \
	if [ -n "$$missing" ]; then \
	    echo "installing: $$missing"; \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/pacerd

test: build
	@[ -x /usr/bin/chromium ] || echo "note: /usr/bin/chromium is missing, so it_dashboard" \
	    "(the dashboard in a real browser) is skipped; \`make deps\` installs it"
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Debian packages, $(DEB_BUILD)/deb/{pacer,libpacer0,libpacer-dev}_<version>_<arch>.deb (CPack's
# DEB generator, set up in CMakeLists.txt), from a build of their own: prefix /usr (so the
# libraries go to /usr/lib/<multiarch>), Debian's hardening flags (dpkg-buildflags), and only
# what the packages hold. Install with `sudo apt install ./$(DEB_BUILD)/deb/*.deb`. deb-packages
# is the same without installing what is missing; tests/it_deb.py runs it (into the test build's
# deb-build/) and lintian on what it makes.
DEB_BUILD ?= build-deb
DEB_TARGETS := pacerd pacer_cli pacer pacer_static pacer_man pacer_deb_doc
DEB_FLAGS = $$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get $(1))
deb: deps
	$(MAKE) deb-packages

deb-packages:
	cmake -S . -B $(DEB_BUILD) -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON \
	    -DCMAKE_C_FLAGS="$(call DEB_FLAGS,CFLAGS) $(call DEB_FLAGS,CPPFLAGS)" \
	    -DCMAKE_EXE_LINKER_FLAGS="$(call DEB_FLAGS,LDFLAGS)" \
	    -DCMAKE_SHARED_LINKER_FLAGS="$(call DEB_FLAGS,LDFLAGS)"
	cmake --build $(DEB_BUILD) -j $(JOBS) --target $(DEB_TARGETS)
	rm -f $(DEB_BUILD)/deb/*.deb
	cd $(DEB_BUILD) && cpack -G DEB

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DPACER_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"

# libFuzzer targets, each run for FUZZ_SECONDS or FUZZ_RUNS executions (whichever ends first;
# FUZZERS="fuzz_keys ..." picks some) from its checked-in seeds and what earlier runs found
# (build-fuzz/corpus/); a failing input is saved as build-fuzz/crash-* (move it into
# tests/corpus/<fuzzer>/, where ctest keeps running it). Needs clang, installed on demand.
FUZZ_SECONDS ?= 120
FUZZ_RUNS    ?= -1
FUZZERS      := $(basename $(notdir $(filter-out tests/fuzz_main.c,$(wildcard tests/fuzz_*.c))))
FUZZ_DEPS    := clang libclang-rt-dev

fuzz:
	$(MAKE) deps
	$(MAKE) deps DEPS="$(FUZZ_DEPS)"
	cmake -S . -B build-fuzz -DPACER_FUZZ=ON -DCMAKE_C_COMPILER=clang
	cmake --build build-fuzz -j $(JOBS) --target $(FUZZERS)
	for f in $(FUZZERS); do \
	    mkdir -p build-fuzz/corpus/$$f && \
	    build-fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -runs=$(FUZZ_RUNS) -timeout=10 -print_final_stats=1 \
	        -dict=tests/corpus/pacer.dict -artifact_prefix=build-fuzz/ \
	        build-fuzz/corpus/$$f tests/corpus/$$f || exit 1; \
	done

bench: build
	@echo "see README.md, Performance"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz $(DEB_BUILD)
