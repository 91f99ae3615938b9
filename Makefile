# Wraps CMake. `make run` and `make test` install what is missing (apt-get), then build.
BUILD ?= build
JOBS ?= 2
CONFIG ?= config/malipo.yaml
BUILD_TYPE ?= RelWithDebInfo

.PHONY: all setup setup-test build run test bench format format-check clean install package

all: build

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The first run: the server and its plugins only, quietly (the full log in $(BUILD)/build.log).
run: setup
	@mkdir -p $(BUILD)
	@echo "malipo: configuring (log: $(BUILD)/build.log)"
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > $(BUILD)/build.log 2>&1 || { tail -n 20 $(BUILD)/build.log; exit 1; }
	@echo "malipo: building the server and its plugins (tests and benchmarks build with make test / make bench)"
	@cmake --build $(BUILD) -j$(JOBS) --target server >> $(BUILD)/build.log 2>&1 || { grep -E "error|Error" $(BUILD)/build.log | head -n 20; exit 1; }
	@echo "malipo: starting $(BUILD)/bin/malipo serve --config $(CONFIG)"
	@$(BUILD)/bin/malipo serve --config $(CONFIG)

test: setup-test build
	@scripts/test.sh $(BUILD)

bench: setup-test build
	@bench/run.sh $(BUILD)

# Installs the server, its plugins, config, docs and the plugin SDK under PREFIX.
PREFIX ?= /usr/local
install: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target server
	@cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian package: $(BUILD)/malipo_<version>_<arch>.deb (docs/packaging.md).
package: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target server
	@cd $(BUILD) && cpack -G DEB
	@ls $(BUILD)/malipo_*.deb

format:
	@scripts/format.sh

format-check:
	@scripts/format.sh --check

clean:
	rm -rf $(BUILD)
