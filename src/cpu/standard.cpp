// Standard attention on the CPU, the baseline of flashattn-bench: what a framework without a
// fused kernel does (scores = Q K^T materialized, probs = softmax(scores) materialized, then
// probs V), with the same GEMM micro-kernel the flash path uses, so the comparison isolates
// the algorithm. Its memory is O(batch * heads * seqlen_q * seqlen_k).
#include <algorithm>
#include <cstring>
#include <limits>

#include "cpu/cpu.h"
#include "cpu/memory.h"
#include "cpu/thread_pool.h"
#include "cpu/tuning.h"

namespace flashattn::cpu {

Status standard_forward(const FwdProblem& p) {
    using tuning::kRows;
    const Shape& sh = p.shape;
    const int d = static_cast<int>(sh.head_dim);
    const int dp = round_up_panel(d);
    const int skp = round_up_panel(sh.seqlen_k);
    const int64_t B = sh.batch, HQ = sh.heads_q, HK = sh.heads_k, SQ = sh.seqlen_q,
                  SK = sh.seqlen_k;
    const int threads = num_threads();

    // Operands in float, K transposed (the packing a BLAS does internally).
    FloatBuffer qf(size_t(B * HQ * SQ) * dp), kt(size_t(B * HK) * d * skp),
        vf(size_t(B * HK * SK) * dp);
    parallel_for(B * HQ, threads, [&](int64_t bh, int) {
        for (int64_t i = 0; i < SQ; ++i)
            load_row(sh.dtype, p.q.data, p.q.offset(bh / HQ, i, bh % HQ), d,
                     qf.data() + size_t(bh * SQ + i) * dp);
    });
    parallel_for(B * HK, threads, [&](int64_t bh, int) {
        for (int64_t j = 0; j < SK; ++j) {
            load_row_as_column(sh.dtype, p.k.data, p.k.offset(bh / HK, j, bh % HK), d,
                               kt.data() + size_t(bh) * d * skp + j, skp);
            load_row(sh.dtype, p.v.data, p.v.offset(bh / HK, j, bh % HK), d,
                     vf.data() + size_t(bh * SK + j) * dp);
        }
    });

    const int64_t row_blocks = (SQ + kRows - 1) / kRows;
    const int64_t tasks = B * HQ * row_blocks;
    auto task_rows = [&](int64_t task, int64_t* bh, int64_t* i0, int* rows, int64_t* bhk) {
        *bh = task / row_blocks;
        *i0 = (task % row_blocks) * kRows;
        *rows = static_cast<int>(std::min<int64_t>(kRows, SQ - *i0));
        *bhk = (*bh / HQ) * HK + (*bh % HQ) / sh.group();
    };

    // scores = Q K^T, all of it.
    FloatBuffer scores(size_t(B * HQ * SQ) * skp);
    parallel_for(tasks, threads, [&](int64_t task, int) {
        int64_t bh, i0, bhk;
        int rows;
        task_rows(task, &bh, &i0, &rows, &bhk);
        gemm(rows, skp, d, qf.data() + size_t(bh * SQ + i0) * dp, dp,
             kt.data() + size_t(bhk) * d * skp, skp, scores.data() + size_t(bh * SQ + i0) * skp,
             skp, false);
    });

    // probs = softmax(scale * scores + mask), a second full matrix; row sums kept for the end.
    FloatBuffer probs(size_t(B * HQ * SQ) * skp), row_sum(size_t(B * HQ * SQ));
    const float scale_log2 = sh.softmax_scale * 1.4426950408889634f;
    parallel_for(tasks, threads, [&](int64_t task, int) {
        int64_t bh, i0, bhk;
        int rows;
        task_rows(task, &bh, &i0, &rows, &bhk);
        float* pr = probs.data() + size_t(bh * SQ + i0) * skp;
        std::memcpy(pr, scores.data() + size_t(bh * SQ + i0) * skp, sizeof(float) * rows * skp);
        int nvis[kRows];
        float m[kRows];
        for (int r = 0; r < rows; ++r) {
            nvis[r] = static_cast<int>(
                sh.causal ? std::clamp<int64_t>(i0 + r + sh.causal_offset() + 1, 0, SK) : SK);
            m[r] = -std::numeric_limits<float>::infinity();
        }
        online_softmax_block(pr, skp, rows, skp, nvis, scale_log2, m, row_sum.data() + bh * SQ + i0,
                             nullptr, 0, 0);
    });

    // out = probs V, normalized.
    parallel_for(tasks, threads, [&](int64_t task, int) {
        int64_t bh, i0, bhk;
        int rows;
        task_rows(task, &bh, &i0, &rows, &bhk);
        alignas(64) float o[kRows * 256];  // head_dim <= 256 on this backend
        gemm(rows, dp, static_cast<int>(SK), probs.data() + size_t(bh * SQ + i0) * skp, skp,
             vf.data() + size_t(bhk * SK) * dp, dp, o, dp, false);
        for (int r = 0; r < rows; ++r) {
            const float l = row_sum.data()[bh * SQ + i0 + r];
            store_row(sh.dtype, p.out.data, p.out.offset(bh / HQ, i0 + r, bh % HQ), d,
                      o + size_t(r) * dp, l > 0.0f ? 1.0f / l : 0.0f);
        }
    });
    return FLASH_ATTN_SUCCESS;
}

}  // namespace flashattn::cpu
