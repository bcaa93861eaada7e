# The two commands of the README:
#   make run    set up, build, run flashattn-bench on the default backend (GPU if usable)
#   make test   set up, build, run every test, C/C++ and Rust (GPU tests are skipped
#               without a GPU)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all setup configure build run test test-c test-rust clean

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

test: test-rust test-c

test-c: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The Rust crates (CPU): their build script builds libflashattn with CMake itself.
test-rust: setup
	cd bindings/rust && cargo test --locked && cargo run --locked -q --example llama

clean:
	rm -rf $(BUILD) $(BUILD).nvcc $(BUILD).configure.log
