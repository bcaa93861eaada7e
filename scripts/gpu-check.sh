#!/usr/bin/env bash
# The one command for the GPU machine: configure and build for this GPU's architecture with
# every core, run the GPU tests and a random-shape stress test, compute-sanitizer (memcheck,
# racecheck) on a reduced grid, report kernel resource use (and, by scripts/sass_overlap.py,
# whether the sm_90a softmax still overlaps P V in the SASS), then benchmark against PyTorch's
# attention backends. Full logs go to $OUT (default ./gpu-check-out); a short table is last.
#
#   STAGES="build test sm80 sanitize bench" (default), also "decode" (bench/compare_decode.py,
#   one call at a time and in CUDA graphs, args from DECODE_ARGS), "run" (flashattn-bench, as
#   `make run`), "profile" (ncu, every section, on the kernels matching PROFILE_KERNELS of
#   bench/profile_kernels.py $PROFILE_ARGS, by default D = 128, N = 4096) and "rust" (the
#   candle-flashattn CUDA tests and criterion bench packed by scripts/rust-gpu-tests.sh into
#   .rustbin/, carried)
#   BENCH_ARGS="..." (compare_torch.py)
#   STRESS_CASES=300, TEST_FILTER=<gtest filter> (default: every test)
# Needs GoogleTest: installed, or its sources in .deps/googletest (scripts/carry-deps.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
STAGES=${STAGES:-"build test sm80 sanitize bench"}
BUILD=build-gpu
# At most 8 files come back from the GPU machine: build, resources, tests, sanitize, bench
# logs and the three compare_torch outputs. The summary lives in this shell.
summary=""
note() { echo "$*"; summary+="$*"$'\n'; }
has() { [[ " $STAGES " == *" $1 "* ]]; }

cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
note "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1), sm_$cap"
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
extra=()
[ -d .deps/googletest ] && extra+=(-DFLASHATTN_GTEST_SOURCE="$PWD/.deps/googletest")

if has build; then
    start=$SECONDS
    cmake -S . -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release -DFLASHATTN_WERROR=ON \
        -DCMAKE_CUDA_COMPILER="$nvcc" -DFLASHATTN_CUDA_ARCHS="$cap" "${extra[@]}" \
        > "$OUT/build.log" 2>&1 &&
        cmake --build $BUILD -j "$(nproc)" >> "$OUT/build.log" 2>&1
    rc=$?
    note "build: rc=$rc in $((SECONDS - start)) s"
    [ $rc -ne 0 ] && { tail -40 "$OUT/build.log"; exit 1; }
    # Registers, shared memory and spills of every kernel, from the compiled library.
    cuobjdump --dump-resource-usage $BUILD/libflashattn.so 2>/dev/null |
        awk '/Function/ {name=$2} /REG:/ {print name, $0}' | c++filt > "$OUT/resources.txt"
    spills=$(grep -c 'STACK:[1-9]' "$OUT/resources.txt" || true)
    note "kernels: $(wc -l < "$OUT/resources.txt"), with a stack frame (spills): $spills"
    # The sm_90a kernels: Hopper instructions present in the SASS, no serialized wgmma.
    sm90=$(grep 'sm90::fwd_kernel' "$OUT/resources.txt" | sed -E 's/.*(REG:[0-9]+).*(SHARED:[0-9]+).*/\1 \2/' | sort | uniq -c | tr '\n' ';')
    [ -n "$sm90" ] && note "sm90 fwd kernels: $sm90"
    sass=$(mktemp)  # the library's SASS, disassembled once for both checks
    cuobjdump -sass $BUILD/libflashattn.so > "$sass" 2>/dev/null
    counts=$(grep -oE 'HGMMA|UTMALDG|USETMAXREG' "$sass" | sort | uniq -c | tr '\n' ' ')
    note "sm90 SASS: ${counts:-none}; wgmma serialization warnings: $(grep -c 'C751[0-5]\|wgmma.*serializ' "$OUT/build.log")"
    overlap=$(python3 scripts/sass_overlap.py < "$sass")
    note "sm90 softmax under P V (scripts/sass_overlap.py): rc=$?, $(grep -c '^ok' <<< "$overlap") kernels ok, $(grep -c '^BAD' <<< "$overlap") not"
    rm -f "$sass"
fi

tests=$BUILD/tests/flashattn_tests
if has test; then
    start=$SECONDS
    # Bounded: a hung kernel ends the check instead of eating the machine's time.
    FLASHATTN_STRESS_CASES=${STRESS_CASES:-300} timeout ${TEST_TIMEOUT:-480} $tests --gtest_brief=1 \
        ${TEST_FILTER:+--gtest_filter=$TEST_FILTER} > "$OUT/tests.log" 2>&1
    rc=$?
    [ $rc -eq 124 ] && { note "tests: TIMED OUT (a hang?)"; tail -30 "$OUT/tests.log"; printf '%s' "$summary"; exit 1; }
    ran=$(grep -oE '\[==========\] [0-9]+ tests' "$OUT/tests.log" | grep -oE '[0-9]+' | head -1)
    passed=$(grep -oE '\[  PASSED  \] [0-9]+' "$OUT/tests.log" | grep -oE '[0-9]+$')
    skipped=$(grep -oE '\[  SKIPPED \] [0-9]+' "$OUT/tests.log" | grep -oE '[0-9]+$')
    failed=$(grep -cE '^\[  FAILED  \] .*\(' "$OUT/tests.log")
    note "tests: rc=$rc, ${ran:-0} run, ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped, $((SECONDS - start)) s"
    grep -E '^\[  FAILED  \]' "$OUT/tests.log" | head -20
    ./$BUILD/tests/readme_example >> "$OUT/tests.log" 2>&1
fi

if has sm80; then
    # The sm_80 kernels on this GPU too (on Hopper the default is the sm_90a forward).
    start=$SECONDS
    FLASHATTN_DISABLE_SM90=1 timeout 300 $tests --gtest_brief=1 --gtest_filter='*CUDA*' \
        >> "$OUT/tests.log" 2>&1
    rc=$?
    note "tests with FLASHATTN_DISABLE_SM90=1 (sm80 kernels), CUDA cases: rc=$rc, $((SECONDS - start)) s"
fi

if has sanitize; then
    rm -f "$OUT/sanitize.log"
    reduced='*CUDA_*q17_k129*:*CUDA_*q129_k127*:*CUDA_*_d256_*causal*:*CUDA_*_d96_*causal*:*CUDA_*_d192_*causal*:*CUDA_*padded*:*MinimalApi*CUDA*:*Sm90Layer*'
    reduced+=':*CUDA_f16_b1_q1_k3*:*CUDA_f16_b1_q1_k40001*:*CUDA_*_q4_k1500_*:*Decode*'  # decode
    reduced+=':*CUDA_*_k2501_*:*CUDA_*_k3001_*:*CUDA_*_k1801_*'  # decode, several row tiles
    for tool in memcheck racecheck; do
        start=$SECONDS
        log="$OUT/sanitize-$tool.tmp"
        timeout 300 compute-sanitizer --tool $tool --error-exitcode 9 $tests --gtest_brief=1 \
            --gtest_filter="$reduced" > "$log" 2>&1
        rc=$?
        note "compute-sanitizer $tool: rc=$rc ($(grep -oE '[0-9]+ tests' "$log" | head -1)), $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log" | tail -1), $((SECONDS - start)) s"
        cat "$log" >> "$OUT/sanitize.log" && rm -f "$log"
    done
fi

if has rust && [ -f .rustbin/candle_attention_tests.gz ]; then
    start=$SECONDS
    gunzip -c .rustbin/candle_attention_tests.gz > /tmp/candle_attention_tests
    chmod +x /tmp/candle_attention_tests
    # candle links cuBLAS, cuRAND and NVRTC: PyTorch's wheels bring them.
    cublas=$(dirname "$(find $(python3 -c 'import site; print(" ".join(site.getsitepackages()))') \
        /usr/local/cuda*/ -name 'libcublas.so.13*' 2>/dev/null | head -1)")
    LD_LIBRARY_PATH=$cublas timeout 300 /tmp/candle_attention_tests --test-threads 1 > "$OUT/rust.log" 2>&1
    note "candle-flashattn CUDA tests: rc=$? ($(grep -E '^test result' "$OUT/rust.log" | tail -1)), $((SECONDS - start)) s"
    grep -E '^test ' "$OUT/rust.log"
    if [ -f .rustbin/candle_attention_bench.gz ]; then
        # Its criterion bench (flash_attn against candle's naive attention, CPU and this GPU),
        # with short criterion windows; the summary lines carry the medians and peak memory.
        start=$SECONDS
        gunzip -c .rustbin/candle_attention_bench.gz > /tmp/candle_attention_bench
        chmod +x /tmp/candle_attention_bench
        LD_LIBRARY_PATH=$cublas timeout 150 /tmp/candle_attention_bench --bench --warm-up-time 1 \
            --measurement-time 3 >> "$OUT/rust.log" 2>&1
        note "candle-flashattn criterion bench: rc=$?, $((SECONDS - start)) s"
        while read -r line; do note "  $line"; done < <(grep -E '^summary' "$OUT/rust.log")
    fi
fi

if has run; then
    # What `make run` shows on this machine: the default backend (this GPU), default shape.
    note "flashattn-bench (make run):"
    $BUILD/bench/flashattn-bench > "$OUT/run.log" 2>&1
    note "$(cat "$OUT/run.log")"
    $BUILD/bench/flashattn-bench --sweep 1024,4096 --tokens 16384 --heads 16 --head-dim 128 \
        --backward > "$OUT/run.log" 2>&1
    note "$(cat "$OUT/run.log")"
    rm -f "$OUT/run.log"
fi

if has profile; then
    # Every section, and the per-instruction stall samples of the SASS (ncu-source.csv).
    start=$SECONDS
    rm -f /tmp/flashattn-prof.ncu-rep
    ncu --target-processes all --kernel-name-base demangled \
        -k "regex:${PROFILE_KERNELS:-fwd_kernel|dkv_kernel|dq_kernel}" -c 3 --set full \
        -o /tmp/flashattn-prof python3 bench/profile_kernels.py --lib $BUILD/libflashattn.so \
        ${PROFILE_ARGS:-} > "$OUT/ncu.txt" 2>&1 &&
        ncu -i /tmp/flashattn-prof.ncu-rep >> "$OUT/ncu.txt" 2>&1 &&
        ncu -i /tmp/flashattn-prof.ncu-rep --page source --csv --print-source sass \
            > "$OUT/ncu-source.csv" 2>&1
    note "ncu: rc=$? in $((SECONDS - start)) s (ncu.txt, ncu-source.csv)"
fi

if has decode; then
    # Decode-shaped forwards against the SDPA backends, timed call by call and in CUDA graphs
    # (bench/compare_decode.py); DECODE_ARGS adds to both, e.g. --also base=OTHER.so.
    rm -f "$OUT/decode.log"
    for mode in "" --graphs; do
        start=$SECONDS
        PYTHONUNBUFFERED=1 python3 bench/compare_decode.py --lib $BUILD/libflashattn.so \
            --out "$OUT" $mode ${DECODE_ARGS:-} >> "$OUT/decode.log" 2>&1
        note "decode bench ${mode:-(one call at a time)}: rc=$? in $((SECONDS - start)) s"
    done
fi

if has bench; then
    start=$SECONDS
    PYTHONUNBUFFERED=1 python3 bench/compare_torch.py --lib $BUILD/libflashattn.so --out "$OUT" \
        ${BENCH_ARGS:-} > "$OUT/bench.log" 2>&1
    note "bench: rc=$? in $((SECONDS - start)) s"
    echo
    cat "$OUT/compare_torch.md" 2>/dev/null || tail -20 "$OUT/bench.log"
fi
if has decode; then
    echo
    cat "$OUT"/compare_decode*.md 2>/dev/null || tail -20 "$OUT/decode.log"
fi
echo
printf '%s' "$summary"
