# Wraps CMake. `make run` and `make test` install what is missing (apt-get), then build.
BUILD ?= build
JOBS ?= 2
CONFIG ?= config/malipo.yaml
BUILD_TYPE ?= RelWithDebInfo

.PHONY: all setup setup-test build run test bench format clean

all: build

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/bin/malipo serve --config $(CONFIG)

test: setup-test build
	@scripts/test.sh $(BUILD)

bench: setup-test build
	@bench/run.sh $(BUILD)

format:
	@find kernel plugins tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
