// CPU flash backward, in two race-free passes that recompute the probabilities from the LSE:
//   1. dK, dV: each task owns kCols keys of one (batch, KV head) and sweeps every query row of
//      the GQA group that can see them (so the group sum needs no atomics);
//   2. dQ: each task owns kRows query rows and sweeps the keys they see.
// Recomputing S and dP in pass 2 costs two extra tile products but keeps the extra memory
// O(seqlen) and the result bit-identical run to run, whatever the thread count.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/cpu.h"
#include "cpu/memory.h"
#include "cpu/thread_pool.h"
#include "cpu/tuning.h"

namespace flashattn::cpu {

namespace {

constexpr float kLog2e = 1.4426950408889634f;

struct BwdScratch {
    // q, dout: [kRows x dp]; k: [kCols x dp]; kt, vt: [dp x kCols]; p, dp_: [kRows x kCols];
    // pt: [kCols x kRows] (a transposed P or dS); acc1, acc2: [max(kRows, kCols) x dp].
    float *q, *dout, *k, *kt, *vt, *p, *dpm, *pt, *acc1, *acc2;
    static size_t floats(int dp) {
        using namespace tuning;
        const size_t big = size_t(std::max(kRows, kCols)) * dp;
        return 2 * size_t(kRows) * dp + size_t(kCols) * dp + 2 * size_t(dp) * kCols +
               2 * size_t(kRows) * kCols + size_t(kCols) * kRows + 2 * big;
    }
    BwdScratch(float* base, int dp) {
        using namespace tuning;
        const size_t big = size_t(std::max(kRows, kCols)) * dp;
        q = base;
        dout = q + size_t(kRows) * dp;
        k = dout + size_t(kRows) * dp;
        kt = k + size_t(kCols) * dp;
        vt = kt + size_t(dp) * kCols;
        p = vt + size_t(dp) * kCols;
        dpm = p + size_t(kRows) * kCols;
        pt = dpm + size_t(kRows) * kCols;
        acc1 = pt + size_t(kCols) * kRows;
        acc2 = acc1 + big;
    }
};

struct Context {
    const BwdProblem& p;
    const Shape& sh;
    int d, dp;
    int64_t group, rows_total;
    float scale_log2;
    const float* lse_log2;  // [batch, heads_q, seqlen_q], +inf where a row sees no key
    const float* delta;     // rowsum(dO * O), same layout
    int64_t stat_index(int64_t b, int64_t h, int64_t i) const {
        return (b * sh.heads_q + h) * sh.seqlen_q + i;
    }
};

// Loads the rows [r0, r0 + rows) of q and dout, their statistics, and their causal key counts
// relative to key j0.
void load_query_rows(const Context& c, BwdScratch& t, int64_t b, const RowMap& map, int64_t r0,
                     int rows, float* lse_rows, float* delta_rows) {
    for (int r = 0; r < rows; ++r) {
        const int64_t i = map.position(r0 + r), h = map.head(r0 + r);
        load_row(c.sh.dtype, c.p.q.data, c.p.q.offset(b, i, h), c.d, t.q + size_t(r) * c.dp);
        load_row(c.sh.dtype, c.p.dout.data, c.p.dout.offset(b, i, h), c.d,
                 t.dout + size_t(r) * c.dp);
        lse_rows[r] = c.lse_log2[c.stat_index(b, h, i)];
        delta_rows[r] = c.delta[c.stat_index(b, h, i)];
    }
}

void load_key_tile(const Context& c, BwdScratch& t, int64_t b, int64_t hk, int64_t j0, int cols,
                   bool rows_too) {
    using tuning::kCols;
    for (int col = 0; col < cols; ++col) {
        load_row_as_column(c.sh.dtype, c.p.k.data, c.p.k.offset(b, j0 + col, hk), c.d, t.kt + col,
                           kCols);
        load_row_as_column(c.sh.dtype, c.p.v.data, c.p.v.offset(b, j0 + col, hk), c.d, t.vt + col,
                           kCols);
        if (rows_too) {
            load_row(c.sh.dtype, c.p.k.data, c.p.k.offset(b, j0 + col, hk), c.d,
                     t.k + size_t(col) * c.dp);
        }
    }
}

// P and dS of one (rows x kCols) tile: t.p <- P, t.dpm <- dS.
void tile_gradients(const Context& c, BwdScratch& t, const RowMap& map, int64_t r0, int rows,
                    int64_t j0, int cols, const float* lse_rows, const float* delta_rows) {
    using tuning::kCols;
    int nvis[tuning::kRows];
    for (int r = 0; r < rows; ++r) {
        int64_t n = cols;
        if (c.sh.causal) {
            n = std::clamp<int64_t>(map.position(r0 + r) + c.sh.causal_offset() - j0 + 1, 0, cols);
        }
        nvis[r] = static_cast<int>(n);
    }
    gemm(rows, kCols, c.d, t.q, c.dp, t.kt, kCols, t.p, kCols, false);
    probabilities_block(t.p, kCols, rows, kCols, nvis, c.scale_log2, lse_rows);
    gemm(rows, kCols, c.d, t.dout, c.dp, t.vt, kCols, t.dpm, kCols, false);
    softmax_grad_block(t.p, t.dpm, kCols, rows, kCols, delta_rows);
}

void dkdv_pass(const Context& c, const PerThreadScratch& scratch) {
    using namespace tuning;
    const Shape& sh = c.sh;
    const int64_t col_blocks = (sh.seqlen_k + kCols - 1) / kCols;
    parallel_for(sh.batch * sh.heads_k * col_blocks, scratch.workers(), [&](int64_t task, int worker) {
        BwdScratch t(scratch.get(worker), c.dp);
        const int64_t cb = task % col_blocks;
        const int64_t bh = task / col_blocks;
        const int64_t b = bh / sh.heads_k;
        const RowMap map{c.group, bh % sh.heads_k};
        const int64_t j0 = cb * kCols;
        const int cols = static_cast<int>(std::min<int64_t>(kCols, sh.seqlen_k - j0));
        load_key_tile(c, t, b, map.kv_head, j0, cols, false);
        float* dk = t.acc1;
        float* dv = t.acc2;
        std::fill(dk, dk + size_t(kCols) * c.dp, 0.0f);
        std::fill(dv, dv + size_t(kCols) * c.dp, 0.0f);

        // Causal: query position i sees key j0 only when i >= j0 - offset.
        int64_t first_row = 0;
        if (sh.causal) first_row = std::max<int64_t>(0, j0 - sh.causal_offset()) * c.group;
        float lse_rows[kRows], delta_rows[kRows];
        for (int64_t r0 = first_row; r0 < c.rows_total; r0 += kRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kRows, c.rows_total - r0));
            load_query_rows(c, t, b, map, r0, rows, lse_rows, delta_rows);
            tile_gradients(c, t, map, r0, rows, j0, cols, lse_rows, delta_rows);
            // dV += P^T dO and dK += dS^T Q, over this tile's rows.
            transpose(rows, cols, t.p, kCols, t.pt, kRows);
            gemm(cols, c.dp, rows, t.pt, kRows, t.dout, c.dp, dv, c.dp, true);
            transpose(rows, cols, t.dpm, kCols, t.pt, kRows);
            gemm(cols, c.dp, rows, t.pt, kRows, t.q, c.dp, dk, c.dp, true);
        }
        for (int col = 0; col < cols; ++col) {
            store_row(sh.dtype, c.p.dk.data, c.p.dk.offset(b, j0 + col, map.kv_head), c.d,
                      dk + size_t(col) * c.dp, sh.softmax_scale);
            store_row(sh.dtype, c.p.dv.data, c.p.dv.offset(b, j0 + col, map.kv_head), c.d,
                      dv + size_t(col) * c.dp, 1.0f);
        }
    });
}

void dq_pass(const Context& c, const PerThreadScratch& scratch) {
    using namespace tuning;
    const Shape& sh = c.sh;
    const int64_t row_blocks = (c.rows_total + kRows - 1) / kRows;
    parallel_for(sh.batch * sh.heads_k * row_blocks, scratch.workers(), [&](int64_t task, int worker) {
        BwdScratch t(scratch.get(worker), c.dp);
        const int64_t rb = task % row_blocks;
        const int64_t bh = task / row_blocks;
        const int64_t b = bh / sh.heads_k;
        const RowMap map{c.group, bh % sh.heads_k};
        const int64_t r0 = rb * kRows;
        const int rows = static_cast<int>(std::min<int64_t>(kRows, c.rows_total - r0));
        float lse_rows[kRows], delta_rows[kRows];
        load_query_rows(c, t, b, map, r0, rows, lse_rows, delta_rows);
        float* dq = t.acc1;
        std::fill(dq, dq + size_t(kRows) * c.dp, 0.0f);
        const int64_t last_key =
            sh.causal ? std::min(sh.seqlen_k - 1, map.position(r0 + rows - 1) + sh.causal_offset())
                      : sh.seqlen_k - 1;
        for (int64_t j0 = 0; j0 <= last_key; j0 += kCols) {
            const int cols = static_cast<int>(std::min<int64_t>(kCols, sh.seqlen_k - j0));
            load_key_tile(c, t, b, map.kv_head, j0, cols, true);
            tile_gradients(c, t, map, r0, rows, j0, cols, lse_rows, delta_rows);
            gemm(rows, c.dp, cols, t.dpm, kCols, t.k, c.dp, dq, c.dp, true);  // dQ += dS K
        }
        for (int r = 0; r < rows; ++r) {
            store_row(sh.dtype, c.p.dq.data,
                      c.p.dq.offset(b, map.position(r0 + r), map.head(r0 + r)), c.d,
                      dq + size_t(r) * c.dp, sh.softmax_scale);
        }
    });
}

}  // namespace

Status backward(const BwdProblem& p) {
    const Shape& sh = p.shape;
    const int64_t stats = sh.batch * sh.heads_q * sh.seqlen_q;

    // Softmax statistics in log2 units, from the caller's LSE or a forward pass.
    FloatBuffer lse_log2(stats);
    if (p.lse != nullptr) {
        std::copy(p.lse, p.lse + stats, lse_log2.data());
    } else {
        FwdProblem f;
        f.shape = sh;
        f.q = p.q;
        f.k = p.k;
        f.v = p.v;
        if (Status st = flash_forward(f, false, lse_log2.data())) return st;
    }
    for (int64_t i = 0; i < stats; ++i) {
        const float x = lse_log2.data()[i];
        // A row that sees no key has LSE -inf; +inf makes every probability of it exactly 0.
        lse_log2.data()[i] = std::isinf(x) && x < 0 ? std::numeric_limits<float>::infinity()
                                                    : x * kLog2e;
    }

    // delta = rowsum(dO * O), the softmax-backward correction per query row.
    FloatBuffer delta(stats);
    const int d = static_cast<int>(sh.head_dim);
    parallel_for(sh.batch * sh.heads_q, num_threads(), [&](int64_t bh, int) {
        const int64_t b = bh / sh.heads_q, h = bh % sh.heads_q;
        for (int64_t i = 0; i < sh.seqlen_q; ++i) {
            delta.data()[bh * sh.seqlen_q + i] =
                dot_rows(sh.dtype, p.dout.data, p.dout.offset(b, i, h), p.out.data,
                         p.out.offset(b, i, h), d);
        }
    });

    const Context c{p,
                    sh,
                    d,
                    round_up_panel(d),
                    sh.group(),
                    sh.seqlen_q * sh.group(),
                    sh.softmax_scale * kLog2e,
                    lse_log2.data(),
                    delta.data()};
    const PerThreadScratch scratch(BwdScratch::floats(c.dp));
    dkdv_pass(c, scratch);
    dq_pass(c, scratch);
    return FLASH_ATTN_SUCCESS;
}

}  // namespace flashattn::cpu
