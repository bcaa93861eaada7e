// Forward and backward of every backend against the float64 reference, over the grid of shapes
// that break kernels. Each backend runs the same cases; one that is not usable here (no GPU, or
// not compiled) is reported as skipped.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "harness.h"

namespace flashattn::test {
namespace {

constexpr int kDtypes[] = {FLASH_ATTN_DTYPE_F32, FLASH_ATTN_DTYPE_F16, FLASH_ATTN_DTYPE_BF16};
constexpr int kHeadDims[] = {32, 64, 80, 96, 128, 160, 192, 256};
constexpr Layout kLayouts[] = {Layout::Packed, Layout::Transposed, Layout::Padded,
                               Layout::BroadcastKv};

// seqlen 1, 2, 17, 127/128/129 and 1000, equal and unequal both ways.
const std::pair<int64_t, int64_t> kSeqPairs[] = {
    {1, 1},   {2, 2},    {17, 17},  {127, 127}, {128, 128}, {129, 129}, {1000, 1000},
    {1, 1000}, {17, 129}, {2, 128},  {128, 1},   {1000, 17}, {129, 127}, {127, 2}};

std::vector<Case> forward_cases() {
    std::vector<Case> cases;
    int i = 0;
    for (auto [sq, sk] : kSeqPairs)
        for (bool causal : {false, true})
            for (int dt : kDtypes) {
                Case c;
                c.dtype = dt;
                c.seqlen_q = sq;
                c.seqlen_k = sk;
                c.causal = causal;
                c.head_dim = 64;
                // Long sequences with few heads keep the float64 reference fast.
                const bool long_seq = sq * sk > 100000;
                const int ratio = long_seq ? 2 : (i % 3 == 0 ? 1 : i % 3 == 1 ? 4 : 8);
                c.heads_q = long_seq ? 2 : 8;
                c.heads_k = c.heads_q / ratio;
                c.batch = long_seq ? 1 : 2;
                c.with_lse = (i % 4) != 3;
                ++i;
                cases.push_back(c);
            }
    for (int d : kHeadDims)
        for (int dt : kDtypes)
            for (bool causal : {false, true}) {
                Case c;
                c.dtype = dt;
                c.head_dim = d;
                c.causal = causal;
                c.batch = 2;
                c.seqlen_q = causal ? 129 : 65;
                c.seqlen_k = causal ? 129 : 200;
                c.heads_q = 4;
                c.heads_k = 2;
                cases.push_back(c);
            }
    for (int ratio : {1, 4, 8})
        for (Layout layout : kLayouts)
            for (bool causal : {false, true}) {
                Case c;
                c.dtype = kDtypes[(ratio + static_cast<int>(layout)) % 3];
                c.layout = layout;
                c.causal = causal;
                c.batch = 2;
                c.seqlen_q = 77;
                c.seqlen_k = causal ? 93 : 77;
                c.heads_q = 8;
                c.heads_k = 8 / ratio;
                c.head_dim = ratio == 4 ? 128 : 64;
                cases.push_back(c);
            }
    // More (batch, head) tiles than a GPU has SMs, so each persistent CTA of the sm_90a kernel
    // walks several; causal with seqlen_q - seqlen_k above a tile's rows leaves tiles whose
    // rows see no key among them.
    for (int d : {64, 96, 128, 192, 256})
        for (bool causal : {false, true}) {
            Case c;
            c.dtype = d % 128 == 0 ? FLASH_ATTN_DTYPE_F16 : FLASH_ATTN_DTYPE_BF16;
            c.head_dim = d;
            c.causal = causal;
            c.batch = 3;
            c.heads_q = 48;
            c.heads_k = 8;
            c.seqlen_q = causal ? 300 : 40;
            c.seqlen_k = causal ? 40 : 200;
            cases.push_back(c);
        }
    // Several key steps per tile and two tiles per persistent work unit at the larger head
    // dims: the sm_90a kernel carries a tile's last P V and epilogue into the next tile.
    for (int d : {96, 128, 192, 256})
        for (bool causal : {false, true}) {
            Case c;
            c.dtype = d % 128 == 0 ? FLASH_ATTN_DTYPE_BF16 : FLASH_ATTN_DTYPE_F16;
            c.head_dim = d;
            c.causal = causal;
            c.batch = 1;
            c.heads_q = 2;
            c.heads_k = 1;
            c.seqlen_q = causal ? 1100 : 1000;
            c.seqlen_k = causal ? 1000 : 1100;
            cases.push_back(c);
        }
    // Long enough that D = 64 runs the sm_90a kernel's three-consumer tiles (shorter problems
    // run two when causal, four when not); seqlen_k > seqlen_q shifts the diagonal.
    for (int dt : {FLASH_ATTN_DTYPE_F16, FLASH_ATTN_DTYPE_BF16})
        for (bool causal : {false, true}) {
            Case c;
            c.dtype = dt;
            c.head_dim = 64;
            c.causal = causal;
            c.batch = 1;
            c.heads_q = 2;
            c.heads_k = 1;
            c.seqlen_q = 2100;
            c.seqlen_k = dt == FLASH_ATTN_DTYPE_F16 ? 2100 : 2230;
            cases.push_back(c);
        }
    // Decode: up to 16 query rows per (batch, KV head) (seqlen_q * group) run the decode
    // kernel. One sequence against thousands of keys splits them over CTAs, whose partial rows
    // are merged (in a caller's workspace for f16), at every head dim; seqlen_k tails cut a
    // split's last step short.
    for (int d : kHeadDims)
        for (int dt : kDtypes) {
            Case c;
            c.dtype = dt;
            c.head_dim = d;
            c.seqlen_q = 1;
            c.seqlen_k = 3000 + d + dt;
            c.heads_q = 8;
            c.heads_k = 2;
            c.with_lse = (d / 32 + dt) % 2 == 0;
            c.caller_workspace = dt == FLASH_ATTN_DTYPE_F16;
            cases.push_back(c);
        }
    // Every layout, with exactly 16 rows (a group of 16, or 4 positions of a group of 4, causal:
    // masked inside the step), and MHA; batches of 2.
    for (Layout layout : kLayouts)
        for (bool causal : {false, true}) {
            Case c;
            c.dtype = kDtypes[static_cast<int>(layout) % 3];
            c.layout = layout;
            c.causal = causal;
            c.batch = 2;
            c.seqlen_q = causal ? 4 : 1;
            c.seqlen_k = causal ? 1500 : 777;
            c.heads_q = causal ? 8 : 16;
            c.heads_k = causal ? 2 : layout == Layout::Transposed ? 16 : 1;
            c.head_dim = 128;
            cases.push_back(c);
        }
    {
        // One KV head against 40k keys: some 200 splits (209 on an H100), so each of the
        // merge's thread groups sums many partial rows.
        Case c;
        c.dtype = FLASH_ATTN_DTYPE_F16;
        c.head_dim = 64;
        c.seqlen_q = 1;
        c.seqlen_k = 40001;
        c.heads_q = 4;
        c.heads_k = 1;
        cases.push_back(c);
    }
    // MHA decode with a CTA for every SM of an H100 or H200 (3 x 48 KV heads): on sm_90 the
    // sm_90a kernel serves it, elsewhere (and with FLASHATTN_DISABLE_SM90) the decode kernel.
    for (bool causal : {false, true}) {
        Case c;
        c.dtype = causal ? FLASH_ATTN_DTYPE_BF16 : FLASH_ATTN_DTYPE_F16;
        c.head_dim = 128;
        c.causal = causal;
        c.batch = 3;
        c.seqlen_q = causal ? 2 : 1;
        c.seqlen_k = 600;
        c.heads_q = 48;
        c.heads_k = 48;
        cases.push_back(c);
    }
    // More rows than one 16-row tile (speculative tokens, MQA), one sequence against
    // thousands of keys: a CTA per tile and split, the last tile partial. Rows 20 (5 tokens of a
    // group of 4), 40 (MQA) and 64.
    struct Tiled {
        int dtype;
        int64_t head_dim, seqlen_q, seqlen_k, heads_q, heads_k;
        bool causal;
        Layout layout;
    };
    for (const Tiled& t : {Tiled{FLASH_ATTN_DTYPE_F32, 128, 5, 2501, 8, 2, true, Layout::Packed},
                           Tiled{FLASH_ATTN_DTYPE_F16, 64, 1, 3001, 40, 1, false, Layout::Packed},
                           Tiled{FLASH_ATTN_DTYPE_BF16, 256, 64, 1801, 2, 2, true,
                                 Layout::Transposed}}) {
        Case c;
        c.dtype = t.dtype;
        c.head_dim = t.head_dim;
        c.seqlen_q = t.seqlen_q;
        c.seqlen_k = t.seqlen_k;
        c.heads_q = t.heads_q;
        c.heads_k = t.heads_k;
        c.causal = t.causal;
        c.layout = t.layout;
        cases.push_back(c);
    }
    {
        Case c;  // causal, seqlen_q > seqlen_k: decode rows that see no key (zero, LSE -inf)
        c.dtype = FLASH_ATTN_DTYPE_BF16;
        c.causal = true;
        c.batch = 2;
        c.seqlen_q = 3;
        c.seqlen_k = 2;
        c.heads_q = 8;
        c.heads_k = 2;
        cases.push_back(c);
    }
    return cases;
}

std::vector<Case> backward_cases() {
    std::vector<Case> cases;
    const std::pair<int64_t, int64_t> seqs[] = {{1, 1},     {2, 2},     {17, 17},  {127, 129},
                                                {129, 127}, {128, 128}, {1, 300},  {300, 17},
                                                {1000, 1000}};
    int i = 0;
    for (auto [sq, sk] : seqs)
        for (bool causal : {false, true})
            for (int dt : kDtypes) {
                Case c;
                c.dtype = dt;
                c.seqlen_q = sq;
                c.seqlen_k = sk;
                c.causal = causal;
                const bool long_seq = sq * sk > 100000;
                c.heads_q = long_seq ? 1 : 4;
                c.heads_k = long_seq ? 1 : (i % 2 ? 1 : 4);
                c.batch = long_seq ? 1 : 2;
                c.with_lse = i % 2 == 0;
                ++i;
                cases.push_back(c);
            }
    for (int d : kHeadDims)
        for (bool causal : {false, true}) {
            Case c;
            c.dtype = kDtypes[i++ % 3];
            c.head_dim = d;
            c.causal = causal;
            c.seqlen_q = 97;
            c.seqlen_k = 131;
            c.heads_q = 4;
            c.heads_k = 2;
            c.with_lse = !causal;  // without, the backward recomputes it by an LSE-only forward
            cases.push_back(c);
        }
    for (int ratio : {1, 4, 8})
        for (Layout layout : kLayouts) {
            Case c;
            c.dtype = kDtypes[(ratio + static_cast<int>(layout)) % 3];
            c.layout = layout;
            c.causal = ratio != 4;
            c.batch = 2;
            c.seqlen_q = 70;
            c.seqlen_k = 90;
            c.heads_q = 8;
            c.heads_k = 8 / ratio;
            c.head_dim = 64;
            c.with_lse = layout != Layout::Padded;
            cases.push_back(c);
        }
    return cases;
}

using Param = std::tuple<Backend, Case>;

std::string param_name(const testing::TestParamInfo<Param>& info) {
    return backend_name(std::get<0>(info.param)) + "_" + std::get<1>(info.param).name();
}

class Forward : public testing::TestWithParam<Param> {};
class Backward : public testing::TestWithParam<Param> {};

TEST_P(Forward, MatchesReference) {
    const auto& [backend, c] = GetParam();
    if (!backend_usable(backend)) GTEST_SKIP() << backend_name(backend) << " backend not usable here";
    check_forward(backend, c);
}

TEST_P(Backward, MatchesReference) {
    const auto& [backend, c] = GetParam();
    if (!backend_usable(backend)) GTEST_SKIP() << backend_name(backend) << " backend not usable here";
    check_backward(backend, c);
}

INSTANTIATE_TEST_SUITE_P(Grid, Forward,
                         testing::Combine(testing::Values(Backend::CPU, Backend::CUDA),
                                          testing::ValuesIn(forward_cases())),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Grid, Backward,
                         testing::Combine(testing::Values(Backend::CPU, Backend::CUDA),
                                          testing::ValuesIn(backward_cases())),
                         param_name);

// The grid's decode cases test the split over keys and its merge only if the GPU splits them:
// one sequence against 4096 keys must, with one row tile (8 query heads on 2 KV heads) and
// with three (MQA, 40 query heads): its partial rows take workspace.
TEST(Decode, SplitsTheKeysOfOneSequence) {
    if (!backend_usable(Backend::CUDA)) GTEST_SKIP() << "needs a usable CUDA device";
    const int64_t sk = 4096, d = 128;
    for (auto [hq, hk] : {std::pair<int64_t, int64_t>{8, 2}, {40, 1}}) {
        Memory q(Backend::CUDA, hq * d * 2), k(Backend::CUDA, sk * hk * d * 2),
            v(Backend::CUDA, sk * hk * d * 2), out(Backend::CUDA, hq * d * 2);
        FlashAttnForwardArgs a;
        flash_attn_forward_args_init(&a);
        a.dtype = FLASH_ATTN_DTYPE_F16;
        a.batch = 1, a.seqlen_q = 1, a.seqlen_k = sk, a.num_heads_q = hq, a.num_heads_k = hk;
        a.head_dim = d;
        a.softmax_scale = 0.125f;
        a.q = q.get(), a.k = k.get(), a.v = v.get(), a.out = out.get();
        size_t bytes = 0;
        ASSERT_EQ(flash_attn_forward_workspace_size(&a, &bytes), FLASH_ATTN_SUCCESS)
            << flash_attn_last_error();
        EXPECT_GE(bytes, 2 * hq * d * sizeof(float))
            << hq << " query heads: no split (at least two partial rows each)";
    }
}

}  // namespace
}  // namespace flashattn::test

namespace flashattn::test {
namespace {

// Random shapes, forward and backward: FLASHATTN_STRESS_CASES of them (default 12; the GPU
// check runs a few hundred).
class Stress : public testing::TestWithParam<Backend> {};

TEST_P(Stress, RandomShapes) {
    const Backend backend = GetParam();
    if (!backend_usable(backend)) GTEST_SKIP() << backend_name(backend) << " backend not usable here";
    const char* env = std::getenv("FLASHATTN_STRESS_CASES");
    const int n = env ? std::atoi(env) : 12;
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    for (int i = 0; i < n; ++i) {
        Case c;
        c.dtype = uniform(0, 2);
        c.batch = uniform(1, 3);
        c.seqlen_q = uniform(0, 3) == 0 ? uniform(1, 4) : uniform(1, 300);
        c.seqlen_k = uniform(0, 3) == 0 ? c.seqlen_q : uniform(1, 300);
        c.heads_k = uniform(1, 3);
        c.heads_q = c.heads_k * (1 << uniform(0, 2));
        c.head_dim = 8 * uniform(1, 32);
        c.causal = uniform(0, 1);
        c.layout = static_cast<Layout>(uniform(0, 3));
        c.with_lse = uniform(0, 1);
        const std::string what =
            "stress case " + std::to_string(i) + " of seed " + std::to_string(seed) + ": " + c.name();
        SCOPED_TRACE(what);
        try {
            check_forward(backend, c);
            check_backward(backend, c);
        } catch (const std::exception& e) {  // a CUDA error: name the shape that raised it
            FAIL() << what << ": " << e.what();
        }
        if (HasFailure()) break;
    }
}

INSTANTIATE_TEST_SUITE_P(Backends, Stress, testing::Values(Backend::CPU, Backend::CUDA),
                         [](const auto& info) { return backend_name(info.param); });

}  // namespace
}  // namespace flashattn::test
