// The sm_90a PTX layer (TMA, mbarrier, wgmma SS and RS, descriptors) on small integer matrices,
// where every product is exact in f16 and f32: any layout or descriptor mistake shows as a
// wrong element, not as a tolerance question.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/half.h"
#include "harness.h"
#include "sm90_layer_probe.h"

namespace flashattn::test {
namespace {

#if FLASHATTN_TEST_SM90
// S and O of the probe at one head dim D against the host, on fresh small integers.
void check_probe(int D) {
    constexpr int N = kProbeRows;
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> small(-3, 3);
    std::vector<float> q(N * D), k(N * D), v(N * D);
    std::vector<uint16_t> qh(N * D), kh(N * D), vh(N * D);
    for (int i = 0; i < N * D; ++i) {
        q[i] = static_cast<float>(small(rng));
        k[i] = static_cast<float>(small(rng));
        v[i] = static_cast<float>(small(rng));
        qh[i] = float_to_half(q[i]);
        kh[i] = float_to_half(k[i]);
        vh[i] = float_to_half(v[i]);
    }
    Memory dq(Backend::CUDA, N * D * 2), dk(Backend::CUDA, N * D * 2), dv(Backend::CUDA, N * D * 2);
    Memory ds(Backend::CUDA, N * N * 4), dout(Backend::CUDA, N * D * 4);
    dq.upload(qh.data());
    dk.upload(kh.data());
    dv.upload(vh.data());
    const char* err = run_sm90_layer_probe(D, dq.get(), dk.get(), dv.get(),
                                           static_cast<float*>(ds.get()),
                                           static_cast<float*>(dout.get()));
    ASSERT_EQ(err, nullptr) << err;
    std::vector<float> s(N * N), o(N * D);
    ds.download(s.data());
    dout.download(o.data());

    // |S| <= 192 * 9 and |O| <= 64 * 1728 * 3: integers that f16 (S) and f32 (O) hold exactly.
    int bad = 0;
    for (int i = 0; i < N; ++i)
        for (int j = 0; j < N; ++j) {
            double ref = 0;
            for (int d = 0; d < D; ++d) ref += double(q[i * D + d]) * k[j * D + d];
            if (s[i * N + j] != ref && bad++ < 5)
                ADD_FAILURE() << "S[" << i << "][" << j << "] = " << s[i * N + j] << ", want " << ref;
        }
    for (int i = 0; i < N; ++i)
        for (int d = 0; d < D; ++d) {
            double ref = 0;
            for (int j = 0; j < N; ++j) ref += double(s[i * N + j]) * v[j * D + d];
            if (o[i * D + d] != ref && bad++ < 10)
                ADD_FAILURE() << "O[" << i << "][" << d << "] = " << o[i * D + d] << ", want " << ref;
        }
    EXPECT_EQ(bad, 0) << "seed " << seed;
}
#endif

TEST(Sm90Layer, TmaWgmmaMatchHost) {
#if FLASHATTN_TEST_SM90
    if (!backend_usable(Backend::CUDA) || !sm90_probe_device())
        GTEST_SKIP() << "needs an sm_90 GPU";
    for (const int D : kProbeHeadDims) {
        SCOPED_TRACE("head_dim " + std::to_string(D));
        check_probe(D);
    }
#else
    GTEST_SKIP() << "the sm_90a kernels are not compiled in this build";
#endif
}

}  // namespace
}  // namespace flashattn::test
