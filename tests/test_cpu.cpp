// What only the CPU backend promises: any head_dim 1..256, results independent of the thread
// count (bit-identical), and gradients that agree with finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "harness.h"
#include "tolerances.h"

namespace flashattn::test {
namespace {

TEST(Cpu, OddHeadDims) {
    for (int d : {1, 8, 13, 40, 200}) {
        SCOPED_TRACE("head_dim " + std::to_string(d));
        Case c;
        c.dtype = FLASH_ATTN_DTYPE_F32;
        c.head_dim = d;
        c.batch = 2;
        c.seqlen_q = 33;
        c.seqlen_k = 70;
        c.heads_q = 4;
        c.heads_k = 2;
        c.causal = d % 2 == 1;
        check_forward(Backend::CPU, c);
        check_backward(Backend::CPU, c);
    }
}

// f32 packed tensors, forward + backward through the C ABI on host memory.
struct F32Problem {
    int64_t b = 1, sq = 4, sk = 6, hq = 2, hk = 1, d = 8;
    bool causal = true;
    float scale = 0.4f;
    std::vector<float> q, k, v, dout;
    explicit F32Problem(uint64_t seed) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<float> n(0.f, 1.f);
        for (auto* t : {&q, &dout}) t->resize(b * sq * hq * d);
        for (auto* t : {&k, &v}) t->resize(b * sk * hk * d);
        for (auto* t : {&q, &k, &v, &dout})
            for (float& x : *t) x = n(rng);
    }
    FlashAttnForwardArgs fwd(float* out) const {
        FlashAttnForwardArgs a;
        flash_attn_forward_args_init(&a);
        a.dtype = FLASH_ATTN_DTYPE_F32;
        a.causal = causal;
        a.batch = b, a.seqlen_q = sq, a.seqlen_k = sk, a.num_heads_q = hq, a.num_heads_k = hk;
        a.head_dim = d;
        a.softmax_scale = scale;
        a.q = q.data(), a.k = k.data(), a.v = v.data(), a.out = out;
        return a;
    }
    // L = sum(out * dout).
    double loss() const {
        std::vector<float> out(q.size());
        const FlashAttnForwardArgs a = fwd(out.data());
        EXPECT_EQ(flash_attn_fwd(&a), FLASH_ATTN_SUCCESS) << flash_attn_last_error();
        double l = 0;
        for (size_t i = 0; i < out.size(); ++i) l += double(out[i]) * dout[i];
        return l;
    }
};

TEST(Cpu, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE("seed " + std::to_string(seed));
    F32Problem p(seed);
    std::vector<float> out(p.q.size()), dq(p.q.size()), dk(p.k.size()), dv(p.v.size());
    const FlashAttnForwardArgs fa = p.fwd(out.data());
    ASSERT_EQ(flash_attn_fwd(&fa), FLASH_ATTN_SUCCESS);
    FlashAttnBackwardArgs a;
    flash_attn_backward_args_init(&a);
    a.dtype = FLASH_ATTN_DTYPE_F32;
    a.causal = p.causal;
    a.batch = p.b, a.seqlen_q = p.sq, a.seqlen_k = p.sk, a.num_heads_q = p.hq;
    a.num_heads_k = p.hk, a.head_dim = p.d;
    a.softmax_scale = p.scale;
    a.dout = p.dout.data(), a.q = p.q.data(), a.k = p.k.data(), a.v = p.v.data();
    a.out = out.data(), a.dq = dq.data(), a.dk = dk.data(), a.dv = dv.data();
    ASSERT_EQ(flash_attn_bwd(&a), FLASH_ATTN_SUCCESS) << flash_attn_last_error();

    constexpr float kStep = 1e-2f;
    auto numeric = [&](std::vector<float>& x) {
        std::vector<double> g(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
            const float keep = x[i];
            x[i] = keep + kStep;
            const double up = p.loss();
            x[i] = keep - kStep;
            const double down = p.loss();
            x[i] = keep;
            g[i] = (up - down) / (2.0 * kStep);
        }
        return g;
    };
    const std::vector<double> nq = numeric(p.q), nk = numeric(p.k), nv = numeric(p.v);
    EXPECT_LE(relative_error({dq.begin(), dq.end()}, nq), kFiniteDifferenceTolerance) << "dq";
    EXPECT_LE(relative_error({dk.begin(), dk.end()}, nk), kFiniteDifferenceTolerance) << "dk";
    EXPECT_LE(relative_error({dv.begin(), dv.end()}, nv), kFiniteDifferenceTolerance) << "dv";
}

TEST(Cpu, BitIdenticalAcrossThreadCounts) {
    // Tasks never share an accumulator, so the schedule cannot change a single bit.
    Case c;
    c.dtype = FLASH_ATTN_DTYPE_BF16;
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    HostTensor q(c.dtype, 2, 300, 8, 64, Layout::Packed), k(c.dtype, 2, 300, 2, 64, Layout::Packed);
    HostTensor v = k, out = q, dq = q, dk = k, dv = k;
    for (HostTensor* t : {&q, &k, &v, &out}) t->randomize(rng);
    auto run = [&](int threads) {
        EXPECT_EQ(flash_attn_cpu_set_num_threads(threads), FLASH_ATTN_SUCCESS);
        FlashAttnBackwardArgs a;
        flash_attn_backward_args_init(&a);
        a.dtype = c.dtype;
        a.causal = 1;
        a.batch = 2, a.seqlen_q = 300, a.seqlen_k = 300, a.num_heads_q = 8, a.num_heads_k = 2;
        a.head_dim = 64;
        a.softmax_scale = 0.125f;
        a.dout = out.storage.data(), a.q = q.storage.data(), a.k = k.storage.data();
        a.v = v.storage.data(), a.out = out.storage.data();
        a.dq = dq.storage.data(), a.dk = dk.storage.data(), a.dv = dv.storage.data();
        EXPECT_EQ(flash_attn_bwd(&a), FLASH_ATTN_SUCCESS) << flash_attn_last_error();
        return std::vector<std::vector<uint8_t>>{dq.storage, dk.storage, dv.storage};
    };
    const auto one = run(1), many = run(7), again = run(7);
    EXPECT_EQ(flash_attn_cpu_set_num_threads(0), FLASH_ATTN_SUCCESS);
    EXPECT_EQ(one, many) << "seed " << seed;
    EXPECT_EQ(many, again) << "seed " << seed;
}

}  // namespace
}  // namespace flashattn::test
