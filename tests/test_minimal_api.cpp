// The minimal API of the first user's plan: packed f16, seqlen_q == seqlen_k, default stream,
// on every usable backend, against the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/half.h"
#include "harness.h"
#include "tolerances.h"

namespace flashattn::test {
namespace {

class MinimalApi : public testing::TestWithParam<std::tuple<Backend, bool>> {};

TEST_P(MinimalApi, ForwardAndBackward) {
    const auto [backend, causal] = GetParam();
    if (!backend_usable(backend)) GTEST_SKIP() << backend_name(backend) << " backend not usable here";
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    const FlashAttnParams p{2, 150, 4, 64, causal, 0.125f};
    const size_t n = 2 * 150 * 4 * 64;
    HostTensor q(FLASH_ATTN_DTYPE_F16, 2, 150, 4, 64, Layout::Packed);
    HostTensor k = q, v = q, dout = q, out = q, dq = q, dk = q, dv = q;
    for (HostTensor* t : {&q, &k, &v, &dout}) t->randomize(rng);
    for (HostTensor* t : {&out, &dq, &dk, &dv}) t->poison();
    const std::vector<uint8_t> poisoned = out.storage;

    Memory mq(backend, n * 2), mk(backend, n * 2), mv(backend, n * 2), mo(backend, n * 2),
        mdo(backend, n * 2), mdq(backend, n * 2), mdk(backend, n * 2), mdv(backend, n * 2);
    mq.upload(q.storage.data());
    mk.upload(k.storage.data());
    mv.upload(v.storage.data());
    mo.upload(out.storage.data());
    mdo.upload(dout.storage.data());
    ASSERT_EQ(flash_attn_forward(mq.get(), mk.get(), mv.get(), mo.get(), &p), FLASH_ATTN_SUCCESS)
        << flash_attn_last_error();
    ASSERT_EQ(flash_attn_backward(mdo.get(), mq.get(), mk.get(), mv.get(), mo.get(), mdq.get(),
                                  mdk.get(), mdv.get(), &p),
              FLASH_ATTN_SUCCESS)
        << flash_attn_last_error();
    mo.download(out.storage.data());
    mdq.download(dq.storage.data());
    mdk.download(dk.storage.data());
    mdv.download(dv.storage.data());
    expect_fully_written(out, poisoned, "out");
    for (HostTensor* g : {&dq, &dk, &dv}) expect_fully_written(*g, poisoned, "gradient");

    const ref::Dims d{2, 150, 150, 4, 4, 64, causal, 0.125};
    std::vector<double> ro(n), gq(n), gk(n), gv(n);
    ref::forward(d, q.values().data(), k.values().data(), v.values().data(), ro.data(), nullptr);
    ref::backward(d, q.values().data(), k.values().data(), v.values().data(),
                  dout.values().data(), gq.data(), gk.data(), gv.data());
    const Tolerance tol = tolerance(FLASH_ATTN_DTYPE_F16, backend == Backend::CUDA);
    EXPECT_LE(relative_error(out.values(), ro), tol.out);
    EXPECT_LE(relative_error(dq.values(), gq), tol.grad);
    EXPECT_LE(relative_error(dk.values(), gk), tol.grad);
    EXPECT_LE(relative_error(dv.values(), gv), tol.grad);
}

INSTANTIATE_TEST_SUITE_P(Backends, MinimalApi,
                         testing::Combine(testing::Values(Backend::CPU, Backend::CUDA),
                                          testing::Bool()),
                         [](const auto& info) {
                             return backend_name(std::get<0>(info.param)) +
                                    (std::get<1>(info.param) ? "_causal" : "_full");
                         });

}  // namespace
}  // namespace flashattn::test
