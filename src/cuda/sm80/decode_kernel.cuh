// sm_80 decode forward (mma.sync): few query rows against a long K/V cache, the keys split over
// CTAs. Serves problems whose rows per (batch, KV head), seqlen_q * group, are at most
// kDecodeMaxRows, on every sm_80+ GPU, Hopper included: such a problem is bound by reading K
// and V, which the tiles of the other kernels (one CTA walking all keys of 64 to 256 rows,
// mostly padding) read from too few SMs.
//
// A CTA owns one 16-row tile of those rows of one (batch, KV head) and one split of its keys.
// Per step of decode_keys keys, warp w takes keys [16 w, 16 w + 16): its own S = Q K^T, online
// softmax and O += P V, so each warp keeps its own (max, sum, O) for all the rows. K and V
// come through a ring of kDecodeStages shared buffers by cp.async. At the end the warps merge
// through shared memory; with one split the CTA writes the output and LSE, else normalized
// partial rows and their log2-domain LSE into the workspace, which decode_combine_kernel
// merges over the splits. blockIdx.x is split * tiles + tile, so the tiles of a split, which
// read the same keys, run side by side and share them in L2.
#pragma once

#include "cuda/ptx/griddep.cuh"
#include "cuda/sm80/fwd_kernel.cuh"

namespace flashattn::cuda::sm80 {

template <typename T, typename OutT, int kD>
__global__ void __launch_bounds__(decode_warps(kD) * 32, kDecodeMinCtasPerSm)
    decode_kernel(const FwdParams p) {
    constexpr int kWarps = decode_warps(kD), kKeys = decode_keys(kD), kStages = kDecodeStages;
    constexpr int kThreads = kWarps * 32, kRows = kDecodeTileRows, P = pitch<kD>();
    extern __shared__ __align__(16) unsigned char smem[];
    T* sQ = reinterpret_cast<T*>(smem);
    T* sRing = sQ + kRows * P;  // stage s: K (kKeys rows), then V

    // The merge may be scheduled now (its CTAs wait for this grid to finish before reading):
    // this grid is one wave, so they take no SM a split needs, and their launch is off the
    // critical path.
    ptx::griddep_launch_dependents();
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int tiles = (p.rows + kRows - 1) / kRows;
    const int split = blockIdx.x / tiles, r0 = blockIdx.x % tiles * kRows;
    const int hk = blockIdx.y, b = blockIdx.z;
    const T* k = static_cast<const T*>(p.k.ptr);
    const T* v = static_cast<const T*>(p.v.ptr);

    load_tile_async<kRows, kD, kThreads>(sQ, static_cast<const T*>(p.q.ptr), p.head_dim,
                                         [&](int r, int64_t* off) {
                                             if (r0 + r >= p.rows) return false;
                                             *off = group_row_offset(p.q, p.group, b, hk, r0 + r);
                                             return true;
                                         });
    // Split boundaries are whole steps (decode_split), so a step never reaches into the next
    // split's keys; only seqlen_k and the causal limit cut one short.
    const bool whole = p.splits <= 1;
    const int key_begin = whole ? 0 : split * p.split_keys;
    const int key_end = whole ? p.seqlen_k : min(p.seqlen_k, key_begin + p.split_keys);
    const int steps = (key_end - key_begin + kKeys - 1) / kKeys;
    auto load_step = [&](int t) {
        T* sK = sRing + (t % kStages) * 2 * kKeys * P;
        const int j0 = key_begin + t * kKeys;
        auto rows = [&](const TensorArg& a) {
            return [&](int r, int64_t* off) {
                if (j0 + r >= p.seqlen_k) return false;  // zero-filled: P V sees 0, never NaN
                *off = b * a.batch + int64_t(j0 + r) * a.seq + hk * a.head;
                return true;
            };
        };
        load_tile_async<kKeys, kD, kThreads>(sK, k, p.head_dim, rows(p.k));
        load_tile_async<kKeys, kD, kThreads>(sK + kKeys * P, v, p.head_dim, rows(p.v));
    };
#pragma unroll
    for (int t = 0; t < kStages - 1; ++t) {
        if (t < steps) load_step(t);
        ptx::cp_async_commit();  // the first group holds Q too
    }

    const FwdScales sc = fwd_scales(p);
    // This thread's fragment rows g and g + 8, at query positions pos[0], pos[1].
    const int row_g = lane / 4;
    const int pos[2] = {(r0 + row_g) / p.group, (r0 + row_g + 8) / p.group};

    float o[1][kD / 8][4] = {};
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    for (int t = 0; t < steps; ++t) {
        ptx::cp_async_wait<kStages - 2>();
        __syncthreads();  // step t landed for all; every warp is done with step t - 1's buffers
        if (t + kStages - 1 < steps) load_step(t + kStages - 1);
        ptx::cp_async_commit();

        const T* sK = sRing + (t % kStages) * 2 * kKeys * P + warp * 16 * P;
        const int j0 = key_begin + t * kKeys + warp * 16;
        float s[1][2][4] = {};
        scores<T, kD, 1, 16>(s, sQ, sK, lane);
        if (sc.negative) negate_tile<2>(s[0]);  // before masking
        if (j0 + 16 > p.seqlen_k || (p.causal && j0 + 15 > p.causal_offset))
            mask_tile<2>(s[0], j0, pos[0], pos[1], p, lane);
        float alpha[2];
        const bool rescale = online_softmax<2>(s[0], sc.scale_log2, m, l, alpha);
        if (__any_sync(0xffffffffu, rescale)) rescale_rows<kD / 8>(o[0], alpha);
        scores_times_tile<T, kD, 1, 16, kD>(o, s, sK + kKeys * P, 0, lane);
    }

    // Merge the warps: each stores its rows' max, sum and O (on its own max) over the ring.
    constexpr int kOPitch = kD + 8;  // floats: a fragment store's 8 rows spread over the banks
    static_assert((kWarps * kRows * (kOPitch + 2)) * 4 <= decode_smem_bytes(kD),
                  "the merge fits where the tiles were");
    ptx::cp_async_wait<0>();
    __syncthreads();  // every warp is done with the ring
    float* sO = reinterpret_cast<float*>(smem);   // [kWarps][kRows][kOPitch]
    float* sM = sO + kWarps * kRows * kOPitch;    // [kWarps][kRows]
    float* sL = sM + kWarps * kRows;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int r = warp * kRows + row_g + 8 * h;
        const float lsum = ptx::quad_sum(l[h]);
        if (lane % 4 == 0) sM[r] = m[h], sL[r] = lsum;
#pragma unroll
        for (int dn = 0; dn < kD / 8; ++dn)
            *reinterpret_cast<float2*>(sO + r * kOPitch + dn * 8 + 2 * (lane % 4)) =
                make_float2(o[0][dn][2 * h], o[0][dn][2 * h + 1]);
    }
    __syncthreads();

    // Thread t merges the tile's row r = t / kPerRow (the problem's row r0 + r), column pairs
    // 2 (t % kPerRow) + 2 kPerRow i.
    constexpr int kPerRow = kThreads / kRows;
    const int r = threadIdx.x / kPerRow, row = r0 + r;
    if (row >= p.rows) return;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, sM[w * kRows + r]);
    float f[kWarps], lsum = 0.0f;  // each warp's factor onto the common max
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
        const float mw = sM[w * kRows + r];
        f[w] = mw == -INFINITY ? 0.0f : ptx::exp2_approx(mw - mx);
        lsum += f[w] * sL[w * kRows + r];
    }
    const float inv = lsum > 0.0f ? ptx::rcp_approx(lsum) : 0.0f;
    const int head = hk * p.group + row % p.group, at = row / p.group;
    const int64_t part_row = int64_t(split) * p.batch * p.heads_k * p.rows +
                             (int64_t(b) * p.heads_k + hk) * p.rows + row;
    OutT* out = static_cast<OutT*>(p.out);
    if (!whole || out != nullptr) {
        for (int c = 2 * (threadIdx.x % kPerRow); c < p.head_dim; c += 2 * kPerRow) {
            float x = 0.0f, y = 0.0f;
#pragma unroll
            for (int w = 0; w < kWarps; ++w) {
                const float2 ow =
                    *reinterpret_cast<const float2*>(sO + (w * kRows + r) * kOPitch + c);
                x += f[w] * ow.x;
                y += f[w] * ow.y;
            }
            if (whole)
                store2(out + group_row_offset(p.out_arg(), p.group, b, hk, row) + c,
                       x * inv * sc.out, y * inv * sc.out);
            else
                store2(p.o_partial + part_row * kD + c, x * inv, y * inv);
        }
    }
    if (threadIdx.x % kPerRow != 0) return;
    if (!whole)
        p.lse_partial[part_row] = lsum > 0.0f ? mx + ptx::log2_approx(lsum) : -INFINITY;
    else if (p.lse != nullptr)
        p.lse[(int64_t(b) * p.heads_q + head) * p.seqlen_q + at] = row_lse(mx, lsum);
}

// Merges the splits' partial rows, one CTA per row of (batch, KV head). The splits' weights,
// 2^(LSE - the row's max LSE), go to shared memory; then each group of kD / 4 threads sums
// every kGroups-th split's row, a float4 per thread, so a thread has several loads in flight
// and the whole CTA reads the row's splits at once. The groups' sums add up through shared
// memory. A row no split saw gets 0 and -inf.
template <typename OutT, int kD>
__global__ void __launch_bounds__(kDecodeCombineThreads) decode_combine_kernel(const FwdParams p) {
    constexpr int kThreads = kDecodeCombineThreads, kCols = kD / 4;
    constexpr int kGroups = kThreads / kCols;  // whole groups; the threads past them only reduce
    __shared__ float sW[kDecodeMaxSplits];
    __shared__ float4 sAcc[kGroups][kCols];
    __shared__ float sRed[kThreads / 32];
    const int64_t rows = int64_t(p.batch) * p.heads_k * p.rows;
    const int64_t row = blockIdx.x;
    const float* lse = p.lse_partial + row;  // split s at lse[s * rows]
    ptx::griddep_wait();  // the splits' partial rows are written
    // Combines the warps' values (each warp's already reduced across its lanes) with op; every
    // thread gets the result.
    auto across_warps = [&](float x, auto op) {
        if (threadIdx.x % 32 == 0) sRed[threadIdx.x / 32] = x;
        __syncthreads();
        x = sRed[0];
#pragma unroll
        for (int w = 1; w < kThreads / 32; ++w) x = op(x, sRed[w]);
        __syncthreads();  // sRed is free again
        return x;
    };
    float mx = -INFINITY;
    for (int s = threadIdx.x; s < p.splits; s += kThreads) mx = fmaxf(mx, lse[s * rows]);
    mx = across_warps(ptx::warp_max(mx), [](float a, float b) { return fmaxf(a, b); });
    float total = 0.0f;
    for (int s = threadIdx.x; s < p.splits; s += kThreads) {
        sW[s] = mx == -INFINITY ? 0.0f : ptx::exp2_approx(lse[s * rows] - mx);
        total += sW[s];
    }
    // Also publishes sW.
    total = across_warps(ptx::warp_sum(total), [](float a, float b) { return a + b; });

    const int group = threadIdx.x / kCols, c = threadIdx.x % kCols;
    if (group < kGroups) {
        float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (4 * c < p.head_dim) {  // head_dim is a multiple of 8: a float4 is all in or all out
            const float4* part = reinterpret_cast<const float4*>(p.o_partial + row * kD) + c;
#pragma unroll 4
            for (int s = group; s < p.splits; s += kGroups) {
                const float w = sW[s];
                const float4 o = part[s * rows * kCols];
                acc.x += w * o.x;
                acc.y += w * o.y;
                acc.z += w * o.z;
                acc.w += w * o.w;
            }
        }
        sAcc[group][c] = acc;
    }
    __syncthreads();

    const int r = static_cast<int>(row % p.rows);
    const int hk = static_cast<int>(row / p.rows % p.heads_k);
    const int b = static_cast<int>(row / p.rows / p.heads_k);
    if (threadIdx.x < kCols && 4 * threadIdx.x < p.head_dim) {
        float4 sum = sAcc[0][threadIdx.x];
#pragma unroll
        for (int g = 1; g < kGroups; ++g) {
            const float4 a = sAcc[g][threadIdx.x];
            sum.x += a.x;
            sum.y += a.y;
            sum.z += a.z;
            sum.w += a.w;
        }
        const float inv = total > 0.0f ? fwd_scales(p).out / total : 0.0f;
        OutT* out = static_cast<OutT*>(p.out) + group_row_offset(p.out_arg(), p.group, b, hk, r) +
                    4 * threadIdx.x;
        store2(out, sum.x * inv, sum.y * inv);
        store2(out + 2, sum.z * inv, sum.w * inv);
    }
    if (threadIdx.x == 0 && p.lse != nullptr) {
        const int head = hk * p.group + r % p.group;
        p.lse[(int64_t(b) * p.heads_q + head) * p.seqlen_q + r / p.group] =
            total > 0.0f ? (mx + ptx::log2_approx(total)) * static_cast<float>(M_LN2) : -INFINITY;
    }
}

}  // namespace flashattn::cuda::sm80
