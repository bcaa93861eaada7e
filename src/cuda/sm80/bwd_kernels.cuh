// sm_80 flash backward: two kernels that recompute P from the LSE and never share an
// accumulator between CTAs, so gradients are bit-identical run to run (no atomics):
//   dkv_kernel: a CTA owns kKeys keys of one (batch, KV head) (16 per warp, in the mma's
//     transposed orientation S^T = K Q^T) and sweeps every query row of the GQA group that
//     sees them: dV += P^T dO, dK += dS^T Q.
//   dq_kernel: a CTA owns the forward's query rows and sweeps their keys: dQ += dS K.
// With dP = dO V^T and dS = P (dP - delta), delta = rowsum(dO * O) from a pre-pass.
#pragma once

#include "cuda/sm80/fwd_kernel.cuh"

namespace flashattn::cuda::sm80 {

// log2-domain LSE for recomputing P = exp2(S * scale_log2 - lse_log2); +inf for rows that see
// no key (and rows past the end), which makes their probabilities exactly 0.
__device__ __forceinline__ float lse_log2(float lse) {
    return lse == -INFINITY ? INFINITY : lse * static_cast<float>(M_LOG2E);
}

struct GradScales {
    float scale_log2, dp, dq, dk, dv;  // score scale; dP, dQ, dK, dV multipliers
};

__device__ __forceinline__ GradScales grad_scales(const BwdParams& p) {
    GradScales g{p.softmax_scale * static_cast<float>(M_LOG2E), 1.0f, p.softmax_scale,
                 p.softmax_scale, 1.0f};
    if (p.tensor_scales != nullptr) {
        const float sq = p.tensor_scales[kScaleQ], sk = p.tensor_scales[kScaleK];
        const float sv = p.tensor_scales[kScaleV], sdo = p.tensor_scales[kScaleDout];
        g.scale_log2 /= sq * sk;
        g.dp = 1.0f / (sdo * sv);
        g.dq /= sk;
        g.dk /= sq;
        g.dv = 1.0f / sdo;
    }
    return g;
}

template <int kD>
constexpr int dq_smem_bytes() {
    using Tn = BwdDqTuning<kD>;
    return (2 * Tn::kRows + 4 * Tn::kCols) * pitch<kD>() * 2;
}

template <typename T, typename OutT, int kD>
__global__ void __launch_bounds__(BwdDqTuning<kD>::kWarps * 32) dq_kernel(const BwdParams p) {
    using Tn = BwdDqTuning<kD>;
    constexpr int kRows = Tn::kRows, kCols = Tn::kCols, kThreads = Tn::kWarps * 32;
    constexpr int P = pitch<kD>();
    extern __shared__ __align__(16) unsigned char smem[];
    T* sQ = reinterpret_cast<T*>(smem);
    T* sDO = sQ + kRows * P;
    T* sKV = sDO + kRows * P;  // two stages of (K tile, V tile)

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int block = gridDim.x - 1 - blockIdx.x;
    const int hk = blockIdx.y, b = blockIdx.z;
    const int r0 = block * kRows;
    const GradScales gs = grad_scales(p);

    auto query_rows = [&](const TensorArg& t) {
        return [&](int r, int64_t* off) {
            const int row = r0 + r;
            if (row >= p.rows) return false;
            *off = group_row_offset(t, p.group, b, hk, row);
            return true;
        };
    };
    auto kv_rows = [&](int j0, const TensorArg& t) {
        return [&, j0](int r, int64_t* off) {
            if (j0 + r >= p.seqlen_k) return false;
            *off = b * t.batch + int64_t(j0 + r) * t.seq + hk * t.head;
            return true;
        };
    };
    auto load_kv = [&](int tile) {
        T* dst = sKV + (tile % 2) * 2 * kCols * P;
        load_tile_async<kCols, kD, kThreads>(dst, static_cast<const T*>(p.k.ptr), p.head_dim,
                                             kv_rows(tile * kCols, p.k));
        load_tile_async<kCols, kD, kThreads>(dst + kCols * P, static_cast<const T*>(p.v.ptr),
                                             p.head_dim, kv_rows(tile * kCols, p.v));
    };

    load_tile_async<kRows, kD, kThreads>(sQ, static_cast<const T*>(p.q.ptr), p.head_dim, query_rows(p.q));
    load_tile_async<kRows, kD, kThreads>(sDO, static_cast<const T*>(p.dout.ptr), p.head_dim,
                                         query_rows(p.dout));
    const int last_row = min(r0 + kRows, p.rows) - 1;
    const int kv_end =
        p.causal ? min(p.seqlen_k, last_row / p.group + p.causal_offset + 1) : p.seqlen_k;
    const int tiles = kv_end > 0 ? (kv_end + kCols - 1) / kCols : 0;
    if (tiles > 0) load_kv(0);
    ptx::cp_async_commit();

    const int row_a = r0 + warp * 16 + lane / 4, row_b = row_a + 8;
    const int pos_a = row_a / p.group, pos_b = row_b / p.group;
    const int first_pos = r0 / p.group;
    float lse[2], delta[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int row = h == 0 ? row_a : row_b;
        lse[h] = INFINITY;
        delta[h] = 0.0f;
        if (row < p.rows) {
            const int64_t idx = (int64_t(b) * p.heads_q + hk * p.group + row % p.group) * p.seqlen_q +
                                row / p.group;
            lse[h] = lse_log2(p.lse[idx]);
            delta[h] = p.delta[idx];
        }
    }

    float dq[1][kD / 8][4] = {};
    const T* sQw = sQ + warp * 16 * P;
    const T* sDOw = sDO + warp * 16 * P;
    for (int t = 0; t < tiles; ++t) {
        ptx::cp_async_wait<0>();
        __syncthreads();  // tile t landed; every warp is done with tile t - 1's buffer
        if (t + 1 < tiles) load_kv(t + 1);
        ptx::cp_async_commit();
        const T* sK = sKV + (t % 2) * 2 * kCols * P;
        const T* sV = sK + kCols * P;
        const int j0 = t * kCols;

        float s[1][kCols / 8][4] = {}, dp[1][kCols / 8][4] = {};
        scores<T, kD, 1, kCols>(s, sQw, sK, lane);
        scores<T, kD, 1, kCols>(dp, sDOw, sV, lane);
        scale_tile<kCols / 8>(s[0], gs.scale_log2);
        if (j0 + kCols > p.seqlen_k || (p.causal && j0 + kCols - 1 > first_pos + p.causal_offset))
            mask_tile<kCols / 8>(s[0], j0, pos_a, pos_b, p, lane);
#pragma unroll
        for (int nt = 0; nt < kCols / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const float pr = ptx::exp2_approx(s[0][nt][e] - lse[e / 2]);
                s[0][nt][e] = pr * (dp[0][nt][e] * gs.dp - delta[e / 2]);  // dS
            }
        }
        scores_times_tile<T, kD, 1, kCols, kD>(dq, s, sK, 0, lane);
    }

    OutT* out = static_cast<OutT*>(p.dq);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int row = h == 0 ? row_a : row_b;
        if (row >= p.rows) continue;
        OutT* dst = out + b * p.dq_batch + int64_t(row / p.group) * p.dq_seq +
                    int64_t(hk * p.group + row % p.group) * p.dq_head;
        store_row<kD / 8>(dq[0], h, gs.dq, dst, p.head_dim, lane);
    }
}

template <int kD>
constexpr int dkv_smem_bytes() {
    using Tn = BwdDkvTuning<kD>;
    return (2 * Tn::kKeys + 4 * Tn::kRows) * pitch<kD>() * 2 + 4 * Tn::kRows * 4;
}

template <typename T, typename OutT, int kD>
__global__ void __launch_bounds__(BwdDkvTuning<kD>::kWarps * 32) dkv_kernel(const BwdParams p) {
    using Tn = BwdDkvTuning<kD>;
    constexpr int kKeys = Tn::kKeys, kRows = Tn::kRows, kSliceD = Tn::kSliceD;
    constexpr int kThreads = Tn::kWarps * 32;
    constexpr int P = pitch<kD>();
    extern __shared__ __align__(16) unsigned char smem[];
    T* sK = reinterpret_cast<T*>(smem);
    T* sV = sK + kKeys * P;
    T* sQD = sV + kKeys * P;  // two stages of (Q tile, dO tile)
    float* sStats = reinterpret_cast<float*>(sQD + 4 * kRows * P);  // two stages of (lse, delta)

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int key_block = blockIdx.x / Tn::kSplit, slice = blockIdx.x % Tn::kSplit;
    const int hk = blockIdx.y, b = blockIdx.z;
    const int j0 = key_block * kKeys;
    const GradScales gs = grad_scales(p);

    auto kv_rows = [&](const TensorArg& t) {
        return [&](int r, int64_t* off) {
            if (j0 + r >= p.seqlen_k) return false;
            *off = b * t.batch + int64_t(j0 + r) * t.seq + hk * t.head;
            return true;
        };
    };
    load_tile_async<kKeys, kD, kThreads>(sK, static_cast<const T*>(p.k.ptr), p.head_dim, kv_rows(p.k));
    load_tile_async<kKeys, kD, kThreads>(sV, static_cast<const T*>(p.v.ptr), p.head_dim, kv_rows(p.v));

    // Query rows that see any of these keys: causal position i sees j0 when i >= j0 - offset.
    const int first_row = p.causal ? max(0, j0 - p.causal_offset) * p.group : 0;
    const int steps = first_row < p.rows ? (p.rows - first_row + kRows - 1) / kRows : 0;
    auto load_rows = [&](int step) {
        const int r0 = first_row + step * kRows;
        T* dst = sQD + (step % 2) * 2 * kRows * P;
        auto rows = [&](const TensorArg& t) {
            return [&, r0](int r, int64_t* off) {
                const int row = r0 + r;
                if (row >= p.rows) return false;
                *off = group_row_offset(t, p.group, b, hk, row);
                return true;
            };
        };
        load_tile_async<kRows, kD, kThreads>(dst, static_cast<const T*>(p.q.ptr), p.head_dim, rows(p.q));
        load_tile_async<kRows, kD, kThreads>(dst + kRows * P, static_cast<const T*>(p.dout.ptr),
                                             p.head_dim, rows(p.dout));
        float* st = sStats + (step % 2) * 2 * kRows;
        for (int r = threadIdx.x; r < kRows; r += kThreads) {
            const int row = r0 + r;
            float l = INFINITY, d = 0.0f;
            if (row < p.rows) {
                const int64_t idx =
                    (int64_t(b) * p.heads_q + hk * p.group + row % p.group) * p.seqlen_q + row / p.group;
                l = lse_log2(p.lse[idx]);
                d = p.delta[idx];
            }
            st[r] = l;
            st[kRows + r] = d;
        }
    };
    if (steps > 0) load_rows(0);
    ptx::cp_async_commit();

    const int key_a = j0 + warp * 16 + lane / 4, key_b = key_a + 8;
    float dk[1][kSliceD / 8][4] = {}, dv[1][kSliceD / 8][4] = {};
    const T* sKw = sK + warp * 16 * P;
    const T* sVw = sV + warp * 16 * P;
    const int n0 = slice * kSliceD;
    for (int step = 0; step < steps; ++step) {
        ptx::cp_async_wait<0>();
        __syncthreads();  // this step's rows landed; every warp is done with the other stage
        if (step + 1 < steps) load_rows(step + 1);
        ptx::cp_async_commit();
        const int r0 = first_row + step * kRows;
        const T* sQ = sQD + (step % 2) * 2 * kRows * P;
        const T* sDO = sQ + kRows * P;
        const float* sLse = sStats + (step % 2) * 2 * kRows;
        const float* sDelta = sLse + kRows;

        // S^T and dP^T: rows are this warp's keys, columns the step's query rows.
        float st[1][kRows / 8][4] = {}, dpt[1][kRows / 8][4] = {};
        scores<T, kD, 1, kRows>(st, sKw, sQ, lane);
        scores<T, kD, 1, kRows>(dpt, sVw, sDO, lane);
        const bool need_mask = p.causal && j0 + kKeys - 1 > (r0 / p.group) + p.causal_offset;
#pragma unroll
        for (int nt = 0; nt < kRows / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const int c = nt * 8 + 2 * (lane % 4) + (e % 2);
                const int key = e < 2 ? key_a : key_b;
                float pr = ptx::exp2_approx(st[0][nt][e] * gs.scale_log2 - sLse[c]);
                if (need_mask && key > (r0 + c) / p.group + p.causal_offset) pr = 0.0f;
                st[0][nt][e] = pr;
                dpt[0][nt][e] = pr * (dpt[0][nt][e] * gs.dp - sDelta[c]);  // dS^T
            }
        }
        scores_times_tile<T, kD, 1, kRows, kSliceD>(dv, st, sDO, n0, lane);
        scores_times_tile<T, kD, 1, kRows, kSliceD>(dk, dpt, sQ, n0, lane);
    }

    OutT* dk_out = static_cast<OutT*>(p.dk);
    OutT* dv_out = static_cast<OutT*>(p.dv);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int key = h == 0 ? key_a : key_b;
        if (key >= p.seqlen_k) continue;
        OutT* dkr = dk_out + b * p.dk_batch + int64_t(key) * p.dk_seq + int64_t(hk) * p.dk_head;
        OutT* dvr = dv_out + b * p.dv_batch + int64_t(key) * p.dv_seq + int64_t(hk) * p.dv_head;
#pragma unroll
        for (int dn = 0; dn < kSliceD / 8; ++dn) {
            const int col = n0 + dn * 8 + 2 * (lane % 4);
            if (col < p.head_dim) {
                store2(dkr + col, dk[0][dn][2 * h] * gs.dk, dk[0][dn][2 * h + 1] * gs.dk);
                store2(dvr + col, dv[0][dn][2 * h] * gs.dv, dv[0][dn][2 * h + 1] * gs.dv);
            }
        }
    }
}

}  // namespace flashattn::cuda::sm80
