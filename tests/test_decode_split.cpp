// The decode kernel's split of the keys (decode_split in src/cuda/sm80/tuning.h), checked here
// on the host where the tests always run: every key in exactly one split, no split empty or
// past the step ring's alignment, one wave of CTAs where the keys allow it.
#include <gtest/gtest.h>

#include <cstdint>

#include "cuda/sm80/tuning.h"

namespace flashattn::test {
namespace {

using namespace cuda::sm80;

TEST(DecodeSplit, CoversEveryKeyOnceInWholeSteps) {
    for (int kd : kHeadDims)
        for (int64_t pairs : {1, 2, 7, 8, 64, 131, 132, 1000})
            for (int64_t seqlen_k : {1, 2, 63, 64, 65, 129, 1000, 4096, 16385, 1 << 20})
                for (int64_t slots : {1, 108, 264, 528}) {
                    const DecodeSplit s = decode_split(pairs, seqlen_k, kd, slots);
                    SCOPED_TRACE(testing::Message() << "kd " << kd << ", pairs " << pairs
                                                    << ", seqlen_k " << seqlen_k << ", slots "
                                                    << slots);
                    const int64_t keys = decode_keys(kd), steps = (seqlen_k + keys - 1) / keys;
                    ASSERT_GE(s.splits, 1);
                    ASSERT_LE(s.splits, kDecodeMaxSplits);
                    ASSERT_EQ(s.split_keys % keys, 0);
                    // Every key in one split and the last split not empty.
                    ASSERT_GE(int64_t{s.splits} * s.split_keys, seqlen_k);
                    ASSERT_LT(int64_t{s.splits - 1} * s.split_keys, seqlen_k);
                    if (s.splits > 1) {
                        EXPECT_GE(s.split_keys / keys, kDecodeMinSplitSteps);
                        EXPECT_LE(pairs * s.splits, slots) << "more than one wave";
                    }
                    // Splitting happens whenever the GPU has room and the keys allow it.
                    if (pairs * 2 <= slots && steps >= 4 * kDecodeMinSplitSteps) {
                        EXPECT_GT(s.splits, 1);
                    }
                }
}

TEST(DecodeSplit, SharedMemoryFitsEverySm80Gpu) {
    for (int kd : kHeadDims) EXPECT_LE(decode_smem_bytes(kd), 96 * 1024) << "kd " << kd;
}

}  // namespace
}  // namespace flashattn::test
