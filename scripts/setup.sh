#!/usr/bin/env bash
# Installs what building and testing flashattn needs; idempotent, and quick once done.
#   - cmake (>= 3.25), ninja, a C++17 compiler, GoogleTest: from Debian packages if missing
#   - a CUDA compiler: /usr/local/cuda if present, else CUDA 13.0 from Python wheels into a
#     cache outside the source tree (FLASHATTN_CACHE, default ~/.cache/flashattn), which the
#     GPU machines' driver (580, CUDA 13.0) runs. FLASHATTN_NO_CUDA=1 skips it.
# Prints nothing but progress on stderr; writes the nvcc path (or nothing) to stdout.
set -euo pipefail

log() { echo "setup: $*" >&2; }

need_pkgs=()
command -v cmake >/dev/null || need_pkgs+=(cmake)
command -v ninja >/dev/null || need_pkgs+=(ninja-build)
command -v g++ >/dev/null || need_pkgs+=(g++)
[ -f /usr/include/gtest/gtest.h ] || need_pkgs+=(libgtest-dev)
command -v python3 >/dev/null || need_pkgs+=(python3 python3-pip)
command -v cc >/dev/null || need_pkgs+=(gcc)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

# The Rust bindings need cargo (rustup's default toolchain is what the machines ship).
if ! command -v cargo >/dev/null; then
    log "cargo not found: the Rust bindings' tests need a Rust toolchain (rustup.rs)"
fi

if [ "${FLASHATTN_NO_CUDA:-0}" = 1 ]; then
    exit 0
fi
if [ -x /usr/local/cuda/bin/nvcc ]; then
    echo /usr/local/cuda/bin/nvcc
    exit 0
fi

# CUDA 13.0 from wheels. Versions pinned together; the directory name carries them, so a
# change here installs afresh beside the old one.
cache="${FLASHATTN_CACHE:-$HOME/.cache/flashattn}"
dir="$cache/cuda-13.0.88"
root="$dir/nvidia/cu13"
if [ ! -f "$dir/.complete" ]; then
    log "installing CUDA 13.0 (nvcc, runtime, cccl, crt, nvvm) into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target "$dir" \
        nvidia-cuda-nvcc==13.0.88 nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 \
        nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88 >&2
    # nvcc's profile looks for lib64/ and a plain libcudart.so; the wheels ship lib/ and .so.13.
    ln -sfn lib "$root/lib64"
    ln -sf libcudart.so.13 "$root/lib/libcudart.so"
    touch "$dir/.complete"
fi
echo "$root/bin/nvcc"
