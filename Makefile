# The two commands of the README:
#   make run    set up, build, run flashattn-bench on the default backend (GPU if usable)
#   make test   set up, build, run every test (GPU tests are skipped without a GPU)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all setup configure build run test clean

all: build

setup:
	@scripts/setup.sh > $(BUILD).nvcc

configure: setup
	@nvcc=$$(cat $(BUILD).nvcc); \
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLASHATTN_WERROR=ON \
	  $${nvcc:+-DCMAKE_CUDA_COMPILER=$$nvcc} $(CMAKE_ARGS) > $(BUILD).configure.log || \
	  { cat $(BUILD).configure.log; exit 1; }

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/bench/flashattn-bench

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) $(BUILD).nvcc $(BUILD).configure.log
