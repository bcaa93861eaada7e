// Forward and backward of every backend against the float64 reference, over the grid of shapes
// that break kernels. Each backend runs the same cases; one that is not usable here (no GPU, or
// not compiled) is reported as skipped.
#include <gtest/gtest.h>

#include <tuple>

#include "harness.h"

namespace flashattn::test {
namespace {

constexpr int kDtypes[] = {FLASH_ATTN_DTYPE_F32, FLASH_ATTN_DTYPE_F16, FLASH_ATTN_DTYPE_BF16};
constexpr int kHeadDims[] = {32, 64, 80, 96, 128, 160, 192, 256};

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
        for (Layout layout : {Layout::Packed, Layout::Transposed, Layout::Padded})
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
            cases.push_back(c);
        }
    for (int ratio : {1, 4, 8})
        for (Layout layout : {Layout::Packed, Layout::Transposed, Layout::Padded}) {
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

}  // namespace
}  // namespace flashattn::test
