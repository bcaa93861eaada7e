#!/usr/bin/env bash
# Builds candle-flashattn's tests and its criterion bench with the cuda feature on a machine
# without a GPU and packs both binaries into .rustbin/ (git-ignored) to carry to the GPU machine,
# which has no Rust toolchain and no crate registry; scripts/gpu-check.sh's rust stage runs
# them. By hand there (the command is printed at the end):
#   cd .rustbin && gunzip -f candle_attention_tests.gz && LD_LIBRARY_PATH=<cuda lib dir> ./candle_attention_tests
# Linking needs the CUDA libraries candle links against: cuBLAS, cuRAND and NVRTC come from
# the CUDA 13.0 wheels (into FLASHATTN_CACHE), and libcuda.so.1, the driver, from a stub made
# here that exports the driver functions cudarc declares (the real driver serves them at run
# time). CUDA_COMPUTE_CAP / FLASHATTN_CUDA_ARCHS pick the GPU (default 90, the H100).
set -euo pipefail
cd "$(dirname "$0")/.."
nvcc=$(scripts/setup.sh)
cache="${FLASHATTN_CACHE:-$HOME/.cache/flashattn}"
libs="$cache/cuda-13.0-link-libs"
cap=${CUDA_COMPUTE_CAP:-90}
if [ ! -f "$libs/.complete" ]; then
    mkdir -p "$libs/wheels"
    python3 -m pip download -q --disable-pip-version-check --no-deps -d "$libs/wheels" \
        nvidia-cublas==13.0.0.19 nvidia-curand==10.4.0.35 nvidia-cuda-nvrtc==13.0.88
    for w in "$libs"/wheels/*.whl; do unzip -q -o -j "$w" '*/lib/*.so*' -d "$libs"; done
    for l in cublas cublasLt curand nvrtc; do
        ln -sf "$(cd "$libs" && ls lib$l.so.* | head -1)" "$libs/lib$l.so"
    done
    rm -rf "$libs/wheels"
    touch "$libs/.complete"
fi
# The driver stub: every cu* function cudarc's driver bindings name.
(cd bindings/rust && cargo fetch --locked -q)
cudarc=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* | head -1)
grep -rhoE "fn cu[A-Za-z0-9_]+\(" "$cudarc/src/driver" | sed -E 's/fn //; s/\(//' | sort -u |
    sed 's/.*/void &(void) {}/' > "$libs/cuda_stub.c"
cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$libs/libcuda.so" "$libs/cuda_stub.c"

target="${CARGO_TARGET_DIR:-$PWD/bindings/rust/target}/cuda-tests"
mkdir -p "$target" .rustbin
# Builds, without running, `cargo <args>` of candle-flashattn with the cuda feature; cargo's
# report, which names the binary, goes to $target/<log>.log.
build() {
    local log=$1
    shift
    (cd bindings/rust &&
        PATH="$(dirname "$nvcc"):$PATH" CUDA_COMPUTE_CAP=$cap FLASHATTN_CUDA_ARCHS=$cap \
        RUSTFLAGS="-L $libs" CARGO_TARGET_DIR="$target" \
        cargo "$@" --locked --features cuda -p candle-flashattn --no-run 2>&1 |
            tee "$target/$log.log")
}
build tests test --release
build bench bench --bench attention
# The test and the bench are both named attention: take each from its own build's report.
pack() {
    local bin
    bin=$(sed -nE "s|.*Executable $1 \((.*)\)|\1|p" "$target/$2.log" | tail -1)
    (cd bindings/rust && cp "$bin" "../../.rustbin/$3")  # the path printed is relative to there
    strip ".rustbin/$3"
    gzip -9 -f ".rustbin/$3"
}
pack tests/attention.rs tests candle_attention_tests
pack benches/attention.rs bench candle_attention_bench
echo "packed .rustbin/candle_attention_tests.gz ($(du -h .rustbin/candle_attention_tests.gz | cut -f1)); on the GPU machine, carrying .rustbin:"
echo '  cd .rustbin && gunzip -f candle_attention_tests.gz && L=$(dirname $(find / -name libcublas.so.13 2>/dev/null | head -1)) && LD_LIBRARY_PATH=$L ./candle_attention_tests --test-threads 1'
