// CPU flash forward: each task owns kRows query rows of one (batch, KV head), streams K/V in
// tiles of kCols keys with the online softmax, and never holds more than one tile of scores.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/cpu.h"
#include "cpu/memory.h"
#include "cpu/thread_pool.h"
#include "cpu/tuning.h"

namespace flashattn::cpu {

namespace {

// Per-thread tiles, carved from one allocation.
struct FwdScratch {
    float *q, *kt, *v, *s, *o, *m, *l;
    static size_t floats(int dp) {
        using namespace tuning;
        return size_t(kRows) * dp + size_t(dp) * kCols + size_t(kCols) * dp + size_t(kRows) * kCols +
               size_t(kRows) * dp + 2 * size_t(round_up_panel(kRows));
    }
    FwdScratch(float* base, int dp) {
        using namespace tuning;
        q = base;
        kt = q + size_t(kRows) * dp;
        v = kt + size_t(dp) * kCols;
        s = v + size_t(kCols) * dp;
        o = s + size_t(kRows) * kCols;
        m = o + size_t(kRows) * dp;
        l = m + round_up_panel(kRows);
    }
};

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

}  // namespace

Status flash_forward(const FwdProblem& p, bool write_out, float* lse) {
    using namespace tuning;
    const Shape& sh = p.shape;
    const int d = static_cast<int>(sh.head_dim);
    const int dp = round_up_panel(d);
    const int64_t group = sh.group();
    const int64_t rows_total = sh.seqlen_q * group;
    const int64_t row_blocks = (rows_total + kRows - 1) / kRows;
    const int64_t tasks = sh.batch * sh.heads_k * row_blocks;
    const float scale_log2 = sh.softmax_scale * kLog2e;
    const int64_t off = sh.causal_offset();

    PerThreadScratch scratch(FwdScratch::floats(dp));
    parallel_for(tasks, scratch.workers(), [&](int64_t task, int worker) {
        FwdScratch t(scratch.get(worker), dp);
        const int64_t rb = task % row_blocks;
        const int64_t bh = task / row_blocks;
        const int64_t b = bh / sh.heads_k;
        const RowMap map{group, bh % sh.heads_k};
        const int64_t r0 = rb * kRows;
        const int rows = static_cast<int>(std::min<int64_t>(kRows, rows_total - r0));

        for (int r = 0; r < rows; ++r) {
            load_row(sh.dtype, p.q.data, p.q.offset(b, map.position(r0 + r), map.head(r0 + r)), d,
                     t.q + size_t(r) * dp);
            t.m[r] = -std::numeric_limits<float>::infinity();
            t.l[r] = 0.0f;
        }
        std::fill(t.o, t.o + size_t(rows) * dp, 0.0f);

        // Keys this block can see: all, or up to the causal limit of its last row.
        const int64_t last_key =
            sh.causal ? std::min(sh.seqlen_k - 1, map.position(r0 + rows - 1) + off)
                      : sh.seqlen_k - 1;
        int nvis[kRows];
        for (int64_t j0 = 0; j0 <= last_key; j0 += kCols) {
            const int cols = static_cast<int>(std::min<int64_t>(kCols, sh.seqlen_k - j0));
            for (int c = 0; c < cols; ++c) {
                load_row_as_column(sh.dtype, p.k.data, p.k.offset(b, j0 + c, map.kv_head), d,
                                   t.kt + c, kCols);
                load_row(sh.dtype, p.v.data, p.v.offset(b, j0 + c, map.kv_head), d,
                         t.v + size_t(c) * dp);
            }
            for (int r = 0; r < rows; ++r) {
                int64_t n = cols;
                if (sh.causal) n = std::clamp<int64_t>(map.position(r0 + r) + off - j0 + 1, 0, cols);
                nvis[r] = static_cast<int>(n);
            }
            gemm(rows, kCols, d, t.q, dp, t.kt, kCols, t.s, kCols, false);
            online_softmax_block(t.s, kCols, rows, kCols, nvis, scale_log2, t.m, t.l, t.o, dp, dp);
            gemm(rows, dp, cols, t.s, kCols, t.v, dp, t.o, dp, true);
        }

        for (int r = 0; r < rows; ++r) {
            const int64_t i = map.position(r0 + r), h = map.head(r0 + r);
            const bool empty = t.l[r] == 0.0f;  // the row saw no key
            if (write_out) {
                store_row(sh.dtype, p.out.data, p.out.offset(b, i, h), d, t.o + size_t(r) * dp,
                          empty ? 0.0f : 1.0f / t.l[r]);
            }
            if (lse != nullptr) {
                lse[(b * sh.heads_q + h) * sh.seqlen_q + i] =
                    empty ? -std::numeric_limits<float>::infinity()
                          : (t.m[r] + std::log2(t.l[r])) * kLn2;
            }
        }
    });
    return FLASH_ATTN_SUCCESS;
}

}  // namespace flashattn::cpu
