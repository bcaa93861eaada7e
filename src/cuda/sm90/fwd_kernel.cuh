// sm_90a flash forward (FlashAttention-3 class): TMA, wgmma, warp specialization.
//
// A persistent CTA (one per SM) walks work tiles of kRows query rows of one (batch, query
// head); fwd_tile() gives the order. Warpgroup 0 is the producer: after giving up registers
// (setmaxnreg) one thread issues every TMA copy: each tile's Q, into one of two buffers where
// they fit, and K and V of each key step into a ring of kStages buffers, each guarded by a
// "full" and an "empty" mbarrier (tma.cuh); it runs ahead into the next tile while the
// consumers finish the last.
// Warpgroups 1..kConsumers each own 64 rows of the tile. Per step n of kCols keys a consumer
// issues S_n = Q K_n^T together with O += P_{n-1} V_{n-1} (wgmma RS, P kept in registers in
// the A layout), waits for S_n only, and runs the online softmax while the product with V is
// still in flight. S_n is wgmma RS too where Q fits in registers (kQInRegs: loaded once per
// tile, so the tensor cores read only K from shared memory), else SS. The consumers take turns
// issuing (named barriers, in a ring), so the tensor cores work on one's products while
// another runs its softmax.
// Shared tiles are 64-column slabs with the 128-byte swizzle (wgmma.cuh has the descriptors);
// at D = 96 the second slab's last 32 columns are TMA's zero fill, never read by a wgmma.
// The epilogue normalizes O and writes it with stmatrix into a swizzled staging tile per
// consumer, which one thread stores by TMA while the consumers go on. Where shared memory has
// no room for staging tiles (D >= 192), O goes over the consumer's own 64 rows of the tile's
// Q buffer instead (read by nothing once its last S is done), and that Q buffer goes back to
// the producer only once the store has read it.
#pragma once

#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>

#include "cuda/common/fast_div.h"
#include "cuda/common/params.h"
#include "cuda/common/softmax.cuh"
#include "cuda/ptx/tma.cuh"
#include "cuda/ptx/wgmma.cuh"
#include "cuda/sm90/tuning.h"

namespace flashattn::cuda::sm90 {

constexpr int kSlabBytes = 128;  // one row of a 64-column slab
constexpr int kMaxSmem = 227 * 1024;  // dynamic shared memory of one sm_90 CTA

template <int kD, int kConsumers>
struct FwdSmem {
    using Tn = FwdTuning<kD, kConsumers>;
    static constexpr int kSlabs = (kD + 63) / 64;
    static constexpr int kQBytes = kSlabs * Tn::kRows * kSlabBytes;
    static constexpr int kKvBytes = kSlabs * Tn::kCols * kSlabBytes;  // one K or V stage
    static constexpr int kRingBytes = 2 * Tn::kStages * kKvBytes;  // K and V
    static constexpr int kOWgBytes = kSlabs * 64 * kSlabBytes;  // one consumer's 64 rows of O
    // O is staged in the Q buffer where two Q buffers and staging tiles do not fit together
    // (measured: staging tiles are faster at D <= 128, O in Q at D = 192 and 256).
    static constexpr bool kOInQ = 2 * kQBytes + kRingBytes + kConsumers * kOWgBytes +
                                      ptx::kSwizzlePeriod > kMaxSmem;
    static constexpr int kOBytes = kOInQ ? 0 : kConsumers * kOWgBytes;
    static_assert(!(kOInQ && Tn::kQInRegs), "O goes to the Q buffer only while S still reads it");
    // Two Q buffers where they fit: the next tile's Q is loaded during this one, so the kernel
    // pipelines across tiles (kCrossTile); otherwise each tile drains before the next.
    static constexpr int kQBufs =
        2 * kQBytes + kRingBytes + kOBytes + ptx::kSwizzlePeriod <= kMaxSmem ? 2 : 1;
    static constexpr bool kCrossTile = kQBufs == 2;
    static constexpr int kQ = 0;
    static constexpr int kK = kQ + kQBufs * kQBytes;
    static constexpr int kV = kK + Tn::kStages * kKvBytes;
    static constexpr int kO = kV + Tn::kStages * kKvBytes;
    // The kernel aligns the dynamic buffer up to the swizzle period.
    static constexpr int kBytes = kO + kOBytes + ptx::kSwizzlePeriod;
    static_assert(kBytes <= kMaxSmem, "the tiles fit the shared memory of one CTA");
    static_assert(kQBytes % ptx::kSwizzlePeriod == 0 && kKvBytes % ptx::kSwizzlePeriod == 0,
                  "swizzled tiles stay aligned");
};

// Key steps a block of query rows [r0, r0 + rows) sees: all keys, or up to the causal limit
// (bottom-right aligned) of its last row.
__device__ __forceinline__ int key_steps(const AttnParams& p, int r0, int rows, int cols) {
    const int end = p.causal ? min(p.seqlen_k, r0 + rows + p.causal_offset) : p.seqlen_k;
    return end > 0 ? (end + cols - 1) / cols : 0;
}

// The work: units of one (batch, head) pairing query blocks m_blocks - 1 - j and j (the
// middle block of an odd count alone), in that order. Under a causal mask the two lengths sum
// to a constant, so a static round-robin of units over persistent CTAs balances them, the
// longer block first. Consecutive units share a head, so CTAs running at the same time share
// its K and V in L2. Unit numbers are split by FastDiv: these run at every tile boundary.
struct FwdSchedule {
    int m_blocks, units;
    FastDiv pairs, heads;  // unit = (b heads_q + head) pairs + j
};
struct FwdTile {
    int b, head, r0;
};
__device__ __forceinline__ int unit_tiles(const FwdSchedule& s, int unit) {
    const int j = unit - static_cast<int>(s.pairs.div(unit) * s.pairs.d);
    return 2 * j + 1 == s.m_blocks ? 1 : 2;
}
__device__ __forceinline__ FwdTile fwd_tile(const FwdSchedule& s, int unit, int half, int rows) {
    int bh = s.pairs.div(unit);
    asm volatile("" : "+r"(bh));  // computed here: hoisted, a value was spilled (D = 256)
    const int j = unit - bh * static_cast<int>(s.pairs.d);
    const int b = s.heads.div(bh);
    const int m_block = half == 0 ? s.m_blocks - 1 - j : j;
    return {b, bh - b * static_cast<int>(s.heads.d), m_block * rows};
}

// Named barriers: consumer c of the ping-pong waits on kPingPong + c before issuing its
// wgmma, then signals the next consumer's; kEpilogue + c orders its own warps' writes of O
// before its store.
constexpr int kPingPong = 1;
constexpr int kEpilogue = kPingPong + 4;  // after the ping-pong ids of up to four consumers

template <typename T, int kD, int kConsumers>
__global__ void __launch_bounds__(FwdTuning<kD, kConsumers>::kThreads, 1)
    fwd_kernel(const __grid_constant__ CUtensorMap tm_q, const __grid_constant__ CUtensorMap tm_k,
               const __grid_constant__ CUtensorMap tm_v, const __grid_constant__ CUtensorMap tm_o,
               const FwdParams p, const FwdSchedule sched) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using Tn = FwdTuning<kD, kConsumers>;
    using L = FwdSmem<kD, kConsumers>;
    constexpr int kRows = Tn::kRows, kCols = Tn::kCols, kStages = Tn::kStages;
    constexpr int kSlabs = L::kSlabs;
    static_assert(kConsumers <= kEpilogue - kPingPong && kEpilogue + kConsumers <= 16,
                  "distinct named barrier ids, 1..15");

    extern __shared__ unsigned char smem_raw[];
    unsigned char* smem = ptx::align_to_swizzle_period(smem_raw);
    __shared__ uint64_t full_q[L::kQBufs], empty_q[L::kQBufs], full_k[kStages], full_v[kStages],
        empty_k[kStages], empty_v[kStages];
    __shared__ float wait_hold[Tn::kThreads / 32];  // per warp; written, never read

    const int wg = threadIdx.x / 128;

    if (threadIdx.x == 0) {
        for (int b = 0; b < L::kQBufs; ++b) {
            ptx::mbarrier_init(&full_q[b], 1);
            // One arrival per consumer warp after its last S, or per consumer once its O
            // store has read the buffer.
            ptx::mbarrier_init(&empty_q[b], L::kOInQ ? Tn::kConsumers : 4 * Tn::kConsumers);
        }
        for (int s = 0; s < kStages; ++s) {
            ptx::mbarrier_init(&full_k[s], 1);
            ptx::mbarrier_init(&full_v[s], 1);
            ptx::mbarrier_init(&empty_k[s], 4 * Tn::kConsumers);
            ptx::mbarrier_init(&empty_v[s], 4 * Tn::kConsumers);
        }
        ptx::fence_barrier_init();
    }
    __syncthreads();

    // Producer and consumers walk the same tiles; `it` counts K/V steps (ring slot and
    // parity) and `qi` loaded Q tiles, both across tiles.
    if (wg == 0) {
        ptx::setmaxnreg_dec<Tn::kProducerRegs>();
        if (threadIdx.x != 0) return;
        ptx::prefetch_tensormap(&tm_q);
        ptx::prefetch_tensormap(&tm_k);
        ptx::prefetch_tensormap(&tm_v);
        int it = 0, qi = 0;
        for (int u = blockIdx.x; u < sched.units; u += gridDim.x)
        for (int half = 0; half < unit_tiles(sched, u); ++half) {
            const FwdTile w = fwd_tile(sched, u, half, kRows);
            const int hk = w.head / p.group;
            const int steps = key_steps(p, w.r0, kRows, kCols);
            if (steps == 0) continue;
            // With O in Q, Q after the first K and V step: Q waits for the last tile's O
            // store, and K_0 and V_0 need not.
            auto load_q = [&] {
                const int qb = qi % L::kQBufs;
                ptx::mbarrier_wait(&empty_q[qb], ((qi / L::kQBufs) & 1) ^ 1);
                ++qi;
                ptx::mbarrier_arrive_expect_tx(&full_q[qb], L::kQBytes);
                for (int s = 0; s < kSlabs; ++s)
                    ptx::tma_load_4d(smem + L::kQ + qb * L::kQBytes + s * kRows * kSlabBytes,
                                     &tm_q, &full_q[qb], 64 * s, w.r0, w.head, w.b);
            };
            if constexpr (!L::kOInQ) load_q();
            for (int n = 0; n < steps; ++n, ++it) {
                const int st = it % kStages;
                const uint32_t phase = (it / kStages) & 1;
                ptx::mbarrier_wait(&empty_k[st], phase ^ 1);
                ptx::mbarrier_arrive_expect_tx(&full_k[st], L::kKvBytes);
                for (int s = 0; s < kSlabs; ++s)
                    ptx::tma_load_4d(smem + L::kK + st * L::kKvBytes + s * kCols * kSlabBytes,
                                     &tm_k, &full_k[st], 64 * s, n * kCols, hk, w.b);
                ptx::mbarrier_wait(&empty_v[st], phase ^ 1);
                ptx::mbarrier_arrive_expect_tx(&full_v[st], L::kKvBytes);
                for (int s = 0; s < kSlabs; ++s)
                    ptx::tma_load_4d(smem + L::kV + st * L::kKvBytes + s * kCols * kSlabBytes,
                                     &tm_v, &full_v[st], 64 * s, n * kCols, hk, w.b);
                if (L::kOInQ && n == 0) load_q();
            }
        }
        return;
    }

    // Consumer c owns rows [r0 + 64 c, r0 + 64 c + 64) of a tile; this thread rows
    // row0 + 16 warp + lane / 4 and 8 below.
    ptx::setmaxnreg_inc<Tn::kConsumerRegs>();
    const int c = wg - 1;
    const int t = threadIdx.x % 128, warp = t / 32, lane = t % 32;
    const float scale_log2 = fabsf(p.softmax_scale) * static_cast<float>(M_LOG2E);
    const bool negative_scale = p.softmax_scale < 0.0f;
    T* out = static_cast<T*>(p.out);  // null in a forward that only recomputes the LSE
    constexpr int kPair = 256;  // a consumer's sync meets its predecessor's arrive
    const int next = (c + 1) % Tn::kConsumers;

    // Ping-pong: the consumers take turns, in a ring, issuing their wgmma, so one's softmax runs
    // while the tensor cores work on the others' products. Consumer 0 goes first.
    if (c == Tn::kConsumers - 1) ptx::named_barrier_arrive(kPingPong + 0, kPair);
    auto turn_begin = [&] {
        ptx::named_barrier_sync(kPingPong + c, kPair);
        ptx::wgmma_fence();
    };
    auto turn_end = [&] { ptx::named_barrier_arrive(kPingPong + next, kPair); };

    // State across tiles: `it` counts K/V steps (ring slot and parity), `qi` Q tiles. A tile
    // whose last P V is not yet issued is pending: with two Q buffers (L::kCrossTile) that
    // product goes out with the next tile's first S, the pending tile's row statistics are
    // finished while that S runs and its epilogue runs in the next softmax gap, so the tensor
    // cores see no tile boundary: between one tile's last softmax and the next tile's first
    // wgmma there is only the new tile's setup.
    int it = 0, qi = 0;
    float o[kD / 8][4] = {};
    uint32_t pa[kCols / 16][4];  // P of the previous step, the RS A operand
    float m[2], l[2];
    bool pending = false;
    FwdTile wp{};
    float m_p[2], l_p[2];   // its rows' max and (per-thread) sum
    bool first_p = false;   // its last P V is its first (one key step)
    int qb_p = 0;           // its Q buffer
    int q_held = -1;        // a Q buffer whose O store may still be reading it

    // Descriptors of the shared tiles, made once: a K-major tile (Q, K) and a V stage
    // (MN-major, slabs kCols rows apart) at the start of shared memory, moved by offsets.
    const ptx::SmemDesc k_major(smem, 16, 1024);
    const ptx::SmemDesc v_major(smem, kCols * kSlabBytes, 1024);
    auto slot = [&](int n) { return (it + n) % kStages; };
    auto parity = [&](int n) { return uint32_t((it + n) / kStages) & 1; };
    // first: P_0 V_0 of a tile, which overwrites O (scale-d 0) rather than accumulating: with a
    // pending tile O is not zeroed by other instructions (copies of wgmma accumulators at path
    // merges make ptxas serialize the wgmma); without, the tile's start zeroes it.
    auto issue_pv = [&](int n, bool first) {
        const ptx::SmemDesc sV = v_major + (L::kV + slot(n) * L::kKvBytes);
        ptx::fence_operands(o);
#pragma unroll
        for (int kk = 0; kk < kCols / 16; ++kk)
            ptx::Wgmma<T, kD>::rs(o, pa[kk], sV + kk * 2048, kk > 0 || !(L::kCrossTile && first));
        ptx::wgmma_commit();
    };
    auto pv_done = [&](int n) {
        ptx::wgmma_wait<0>();
        ptx::fence_operands(o);
        if (lane == 0) ptx::mbarrier_arrive(&empty_v[slot(n)]);
    };

    // The row statistics of tile w from its rows' final max and per-thread sums: writes the
    // LSE of rows row0 + 16 warp + lane / 4 + 8 h and returns their 1 / sum in inv (0 for a
    // row that saw no key).
    auto finish_rows = [&](const FwdTile& w, const float (&mr)[2], const float (&lr)[2],
                           float (&inv)[2]) {
        int row_a = w.r0 + 64 * c + 16 * warp + lane / 4;
        // Computed here: hoisted to the tile's start, the LSE address was spilled (D = 256).
        asm volatile("" : "+r"(row_a));
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int row = row_a + 8 * h;
            const float lsum = ptx::quad_sum(lr[h]);
            inv[h] = lsum > 0.0f ? ptx::rcp_approx(lsum) : 0.0f;
            if (p.lse != nullptr && lane % 4 == 0 && row < p.seqlen_q)
                p.lse[(int64_t(w.b) * p.heads_q + w.head) * p.seqlen_q + row] =
                    row_lse(mr[h], lsum);
        }
    };
    // With O in Q: hands Q buffer q_held back to the producer once its O store has read it.
    auto release_q = [&] {
        if (q_held < 0) return;
        if (t == 0) {
            ptx::bulk_wait_all<true>();
            ptx::mbarrier_arrive(&empty_q[q_held]);
        }
        q_held = -1;
    };
    // Stores O of tile w (Q buffer qb), normalized by inv: each warp writes its 16 rows
    // (16 x 16 blocks, n-tiles 2j and 2j + 1, in the swizzled slab layout) with stmatrix and
    // one thread stores the 64 rows (TMA drops those past seqlen_q). With O in Q the rows are
    // this consumer's of Q buffer qb: every warp has waited for its last S, so nothing reads
    // them any more.
    auto epilogue = [&](const FwdTile& w, const float (&inv)[2], int qb) {
        const int wg_r0 = w.r0 + 64 * c;
        constexpr int kOSlab = (L::kOInQ ? kRows : 64) * kSlabBytes;  // slab to slab
        unsigned char* sO = L::kOInQ ? smem + L::kQ + qb * L::kQBytes + 64 * c * kSlabBytes
                                     : smem + L::kO + c * L::kOWgBytes;
        if (!L::kOInQ) {  // the previous tile's store has read the staging tile
            if (t == 0) ptx::bulk_wait_all<true>();
            ptx::named_barrier_sync(kEpilogue + c, 128);
        }
        if (out != nullptr) {
            const ptx::SwizzledX4 x4(warp, lane);
#pragma unroll
            for (int j = 0; j < kD / 16; ++j) {
                const uint32_t r[4] = {
                    ptx::pack2<T>(o[2 * j][0] * inv[0], o[2 * j][1] * inv[0]),
                    ptx::pack2<T>(o[2 * j][2] * inv[1], o[2 * j][3] * inv[1]),
                    ptx::pack2<T>(o[2 * j + 1][0] * inv[0], o[2 * j + 1][1] * inv[0]),
                    ptx::pack2<T>(o[2 * j + 1][2] * inv[1], o[2 * j + 1][3] * inv[1])};
                ptx::stmatrix_x4(x4.at(sO, kOSlab, j), r);
            }
            ptx::fence_proxy_async_shared();
        }
        ptx::named_barrier_sync(kEpilogue + c, 128);
        if (t == 0 && out != nullptr && wg_r0 < p.seqlen_q) {
            for (int s = 0; s < kSlabs; ++s)
                ptx::tma_store_4d(&tm_o, sO + s * kOSlab, 64 * s, wg_r0, w.head, w.b);
            ptx::bulk_commit();
        }
        if constexpr (L::kOInQ) {
            q_held = qb;
            // With one Q buffer the next tile's Q waits for it; with two, it goes back before
            // this consumer's next wgmma, by when the store has read it.
            if constexpr (!L::kCrossTile) release_q();
        }
    };
    // Issues the pending tile's last P V on its own and finishes that tile.
    auto flush = [&] {
        if (!pending) return;
        ptx::mbarrier_wait(&full_v[slot(-1)], parity(-1));
        release_q();
        turn_begin();
        issue_pv(-1, first_p);
        turn_end();
        pv_done(-1);
        float inv_p[2];
        finish_rows(wp, m_p, l_p, inv_p);
        epilogue(wp, inv_p, qb_p);
        pending = false;
    };

    for (int u = blockIdx.x; u < sched.units; u += gridDim.x)
    for (int half = 0; half < unit_tiles(sched, u); ++half) {
        const FwdTile w = fwd_tile(sched, u, half, kRows);
        const int steps = key_steps(p, w.r0, kRows, kCols);
        const int wg_r0 = w.r0 + 64 * c;
        const int row_a = wg_r0 + 16 * warp + lane / 4;
        m[0] = m[1] = -INFINITY;
        l[0] = l[1] = 0.0f;
        // Without a pending tile O is dead here (wgmma's accumulator operand reads it, so a
        // value ends its live range, and fills a tile without keys).
        if (steps == 0) flush();
        if (!L::kCrossTile || steps == 0) {
#pragma unroll
            for (int i = 0; i < kD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
        }
        if (steps == 0) {  // no key for any row, and no Q buffer: zeros stored from registers
            float inv[2];
            finish_rows(w, m, l, inv);
            for (int h = 0; h < 2 && out != nullptr; ++h)
                if (row_a + 8 * h < p.seqlen_q)
                    store_row<kD / 8>(o, h, 0.0f,
                                      out + w.b * p.out_batch + int64_t(row_a + 8 * h) * p.out_seq +
                                          int64_t(w.head) * p.out_head,
                                      kD, lane);
            continue;
        }
        release_q();  // the producer may need that buffer for this tile's Q
        const int qb = qi % L::kQBufs;
        ptx::mbarrier_wait(&full_q[qb], (qi / L::kQBufs) & 1);
        ++qi;
        const int q_off = L::kQ + qb * L::kQBytes + 64 * c * kSlabBytes;
        const unsigned char* sQ = smem + q_off;
        const ptx::SmemDesc sQd = k_major + q_off;
        // With Q in registers each warp loads its 16 rows, k-step kk as the A fragment of
        // columns 16 kk.., and hands the buffer back at once.
        uint32_t qa[Tn::kQInRegs ? kD / 16 : 1][4];
        if constexpr (Tn::kQInRegs) {
            const ptx::SwizzledX4 x4(warp, lane);
#pragma unroll
            for (int kk = 0; kk < kD / 16; ++kk)
                ptx::ldmatrix_x4(qa[kk], x4.at(sQ, kRows * kSlabBytes, kk));
            if (lane == 0) ptx::mbarrier_arrive(&empty_q[qb]);
        }
        float s[kCols / 8][4];
        float alpha[2];
        bool rescale = false;

        // The pipeline, in phases: phase n issues S_n = Q K_n^T and O += P_{n-1} V_{n-1},
        // then runs the softmax of S_n while P_{n-1} V_{n-1} is still in flight. Phase 0 issues
        // the pending tile's last P V, if any; the last P V of this tile is left pending.
        auto issue_qk = [&](int n) {
            const ptx::SmemDesc sK = k_major + (L::kK + slot(n) * L::kKvBytes);
#pragma unroll
            for (int kk = 0; kk < kD / 16; ++kk) {
                const uint64_t kdesc = sK + ((kk / 4) * kCols * kSlabBytes + (kk % 4) * 32);
                if constexpr (Tn::kQInRegs) {
                    ptx::Wgmma<T, kCols>::template rs<false>(s, qa[kk], kdesc, kk > 0);
                } else {
                    const int off = (kk / 4) * kRows * kSlabBytes + (kk % 4) * 32;
                    ptx::Wgmma<T, kCols>::ss(s, sQd + off, kdesc, kk > 0);
                }
            }
            ptx::wgmma_commit();
        };
        // Once S_n has landed: release K_n (and, after the last, Q, unless O goes there),
        // softmax in registers.
        auto softmax = [&](int n) {
            ptx::fence_operands(s);
            if (lane == 0) ptx::mbarrier_arrive(&empty_k[slot(n)]);
            if (!L::kOInQ && !Tn::kQInRegs && n == steps - 1 && lane == 0)
                ptx::mbarrier_arrive(&empty_q[qb]);
            const int j0 = n * kCols;
            if (negative_scale) negate_tile<kCols / 8>(s);  // before masking
            if (j0 + kCols > p.seqlen_k || (p.causal && j0 + kCols - 1 > wg_r0 + p.causal_offset))
                mask_tile<kCols / 8>(s, j0, row_a, row_a + 8, p, lane);
            rescale = online_softmax<kCols / 8>(s, scale_log2, m, l, alpha);
            // The wait for the P V in flight comes after this softmax, not before it. One lane
            // per warp stores (to its warp's word: no two threads write one address), and the
            // store orders the whole warp's instruction stream.
            if (lane == 0) ptx::hold_wait_for(l[0] + l[1], &wait_hold[threadIdx.x / 32]);
        };

        // Phase 0 in two copies, so that no wgmma is in flight where the paths merge (ptxas
        // serializes wgmma whose accumulators it sees copied at a merge).
        ptx::mbarrier_wait(&full_k[slot(0)], parity(0));
        if (pending) {
            ptx::mbarrier_wait(&full_v[slot(-1)], parity(-1));
            turn_begin();
            issue_qk(0);
            issue_pv(-1, first_p);
            turn_end();
            float inv_p[2];  // while S_0 runs
            finish_rows(wp, m_p, l_p, inv_p);
            ptx::wgmma_wait<1>();  // S_0 is ready; the pending P V may still run
            softmax(0);            // no rescale: P_0 V_0 overwrites O
            pv_done(-1);
            ptx::accum_to_a<T>(pa, s);  // before the epilogue, which then needs fewer registers
            epilogue(wp, inv_p, qb_p);
            pending = false;
        } else {
            turn_begin();
            issue_qk(0);
            turn_end();
            ptx::wgmma_wait<0>();
            softmax(0);
            ptx::accum_to_a<T>(pa, s);
        }
        for (int n = 1; n < steps; ++n) {
            ptx::mbarrier_wait(&full_k[slot(n)], parity(n));
            ptx::mbarrier_wait(&full_v[slot(n - 1)], parity(n - 1));
            release_q();
            turn_begin();
            issue_qk(n);
            issue_pv(n - 1, n == 1);
            turn_end();
            ptx::wgmma_wait<1>();  // S_n is ready; P_{n-1} V_{n-1} may still run
            softmax(n);
            pv_done(n - 1);
            if (rescale) rescale_rows<kD / 8>(o, alpha);
            ptx::accum_to_a<T>(pa, s);
        }
        it += steps;
        pending = true;
        first_p = steps == 1;
        qb_p = qb;
        wp = w;
        m_p[0] = m[0], m_p[1] = m[1], l_p[0] = l[0], l_p[1] = l[1];
        if constexpr (!L::kCrossTile) flush();
    }
    flush();
    release_q();
    // The last consumer's final arrival (or, with no work, the opening one) is still pending.
    if (c == 0) ptx::named_barrier_sync(kPingPong + 0, kPair);
    // Shared memory must outlive the last store's reads.
    if (t == 0) ptx::bulk_wait_all<false>();
#endif
}

}  // namespace flashattn::cuda::sm90
