// One test per validation error: the status code, a message naming the argument, and outputs
// left untouched. Runs on host pointers (the CPU backend) unless a test says otherwise.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "device_memory.h"
#include "flashattn/flashattn.h"

namespace flashattn::test {
namespace {

constexpr int64_t B = 2, S = 5, H = 4, D = 16;
constexpr size_t kElems = B * S * H * D;

class Validation : public testing::Test {
protected:
    void SetUp() override {
        for (auto* t : {&q, &k, &v, &dout, &out}) {
            t->resize(kElems);
            for (size_t i = 0; i < kElems; ++i) (*t)[i] = 0.01f * static_cast<float>(i % 97) - 0.4f;
        }
        for (auto* t : {&res, &dq, &dk, &dv}) t->assign(kElems, kPoison);
        flash_attn_forward_args_init(&f);
        f.dtype = FLASH_ATTN_DTYPE_F32;
        f.batch = B, f.seqlen_q = S, f.seqlen_k = S, f.num_heads_q = H, f.num_heads_k = H;
        f.head_dim = D;
        f.softmax_scale = 0.25f;
        f.q = q.data(), f.k = k.data(), f.v = v.data(), f.out = res.data();
        flash_attn_backward_args_init(&b);
        b.dtype = FLASH_ATTN_DTYPE_F32;
        b.batch = B, b.seqlen_q = S, b.seqlen_k = S, b.num_heads_q = H, b.num_heads_k = H;
        b.head_dim = D;
        b.softmax_scale = 0.25f;
        b.dout = dout.data(), b.q = q.data(), b.k = k.data(), b.v = v.data(), b.out = out.data();
        b.dq = dq.data(), b.dk = dk.data(), b.dv = dv.data();
    }

    // The forward fails with `status`, names `word`, and leaves the output untouched.
    void expect_fwd_error(int status, const std::string& word) {
        EXPECT_EQ(flash_attn_fwd(&f), status) << flash_attn_last_error();
        EXPECT_NE(std::string(flash_attn_last_error()).find(word), std::string::npos)
            << "message \"" << flash_attn_last_error() << "\" does not name " << word;
        for (float x : res) ASSERT_EQ(std::memcmp(&x, &kPoison, 4), 0) << "output touched";
    }
    void expect_bwd_error(int status, const std::string& word) {
        EXPECT_EQ(flash_attn_bwd(&b), status) << flash_attn_last_error();
        EXPECT_NE(std::string(flash_attn_last_error()).find(word), std::string::npos)
            << "message \"" << flash_attn_last_error() << "\" does not name " << word;
        for (auto* g : {&dq, &dk, &dv})
            for (float x : *g) ASSERT_EQ(std::memcmp(&x, &kPoison, 4), 0) << "gradient touched";
    }

    const float kPoison = std::nanf("0x5a5a");
    std::vector<float> q, k, v, dout, out, res, dq, dk, dv;
    FlashAttnForwardArgs f;
    FlashAttnBackwardArgs b;
};

TEST_F(Validation, ValidArgumentsSucceedAndClearTheMessage) {
    f.head_dim = 300;
    ASSERT_NE(flash_attn_fwd(&f), FLASH_ATTN_SUCCESS);
    f.head_dim = D;
    EXPECT_EQ(flash_attn_fwd(&f), FLASH_ATTN_SUCCESS) << flash_attn_last_error();
    EXPECT_STREQ(flash_attn_last_error(), "");
    EXPECT_EQ(flash_attn_bwd(&b), FLASH_ATTN_SUCCESS) << flash_attn_last_error();
}

TEST_F(Validation, NullArgs) {
    EXPECT_EQ(flash_attn_fwd(nullptr), FLASH_ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(flash_attn_last_error()).find("args"), std::string::npos);
    EXPECT_EQ(flash_attn_bwd(nullptr), FLASH_ATTN_ERROR_INVALID_ARGUMENT);
}

TEST_F(Validation, StructSizeTooSmall) {
    f.struct_size = 8;
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "struct_size");
}

TEST_F(Validation, NewerStructWithUnknownFieldsSet) {
    // A caller compiled against a newer header: extra fields beyond ours.
    struct Newer {
        FlashAttnForwardArgs base;
        int64_t future_field;
    } n;
    n.base = f;
    n.base.struct_size = sizeof(Newer);
    n.future_field = 7;
    EXPECT_EQ(flash_attn_fwd(&n.base), FLASH_ATTN_ERROR_UNSUPPORTED);
    EXPECT_NE(std::string(flash_attn_last_error()).find("struct_size"), std::string::npos);
    n.future_field = 0;  // unset new fields are fine
    EXPECT_EQ(flash_attn_fwd(&n.base), FLASH_ATTN_SUCCESS) << flash_attn_last_error();
}

TEST_F(Validation, InvalidDtype) {
    f.dtype = 7;
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "dtype");
}

TEST_F(Validation, ZeroSizes) {
    int64_t FlashAttnForwardArgs::*fields[] = {
        &FlashAttnForwardArgs::batch,       &FlashAttnForwardArgs::seqlen_q,
        &FlashAttnForwardArgs::seqlen_k,    &FlashAttnForwardArgs::num_heads_q,
        &FlashAttnForwardArgs::num_heads_k, &FlashAttnForwardArgs::head_dim};
    const char* names[] = {"batch", "seqlen_q", "seqlen_k", "num_heads_q", "num_heads_k", "head_dim"};
    for (int i = 0; i < 6; ++i) {
        SetUp();
        f.*fields[i] = 0;
        expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, names[i]);
        f.*fields[i] = -3;
        expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, names[i]);
    }
}

TEST_F(Validation, SizeAboveInt32) {
    f.seqlen_k = int64_t{1} << 40;
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "seqlen_k");
}

TEST_F(Validation, SizeProductOverflows) {
    // Each size is in range but the tensor would span more than 2^63 bytes.
    f.batch = INT32_MAX, f.seqlen_q = INT32_MAX, f.num_heads_q = 4 * H, f.num_heads_k = H;
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "q");
}

TEST_F(Validation, StrideProductOverflows) {
    f.k_strides = {int64_t{1} << 62, 64, 16, 1};
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "k");
}

TEST_F(Validation, HeadsNotAMultiple) {
    f.num_heads_k = 3;
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "num_heads_q");
}

TEST_F(Validation, NonFiniteScale) {
    f.softmax_scale = std::nanf("");
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "softmax_scale");
    f.softmax_scale = INFINITY;
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "softmax_scale");
}

TEST_F(Validation, NullTensors) {
    const void* FlashAttnForwardArgs::*inputs[] = {&FlashAttnForwardArgs::q,
                                                    &FlashAttnForwardArgs::k,
                                                    &FlashAttnForwardArgs::v};
    const char* names[] = {"q", "k", "v"};
    for (int i = 0; i < 3; ++i) {
        SetUp();
        f.*inputs[i] = nullptr;
        expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, std::string(names[i]) + " is NULL");
    }
    SetUp();
    f.out = nullptr;
    EXPECT_EQ(flash_attn_fwd(&f), FLASH_ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(flash_attn_last_error()).find("out is NULL"), std::string::npos);
}

TEST_F(Validation, NullGradients) {
    b.dk = nullptr;
    expect_bwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "dk is NULL");
    SetUp();
    b.dout = nullptr;
    expect_bwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "dout is NULL");
}

TEST_F(Validation, HeadDimUnsupported) {
    // Sized so that the buffers would be large enough: the backend's range is what fails.
    std::vector<float> big(B * S * H * 300, 0.5f), big_out(B * S * H * 300, kPoison);
    f.head_dim = 300;
    f.q = f.k = f.v = big.data();
    f.out = big_out.data();
    EXPECT_EQ(flash_attn_fwd(&f), FLASH_ATTN_ERROR_UNSUPPORTED);
    EXPECT_NE(std::string(flash_attn_last_error()).find("head_dim 300 unsupported"), std::string::npos)
        << flash_attn_last_error();
    EXPECT_NE(std::string(flash_attn_last_error()).find("1..256"), std::string::npos);
    for (float x : big_out) ASSERT_TRUE(std::isnan(x));
}

TEST_F(Validation, LastDimNotContiguous) {
    f.v_strides = {S * H * D * 2, H * D * 2, D * 2, 2};
    expect_fwd_error(FLASH_ATTN_ERROR_UNSUPPORTED, "v_strides.dim");
}

TEST_F(Validation, NegativeStride) {
    f.q_strides = {S * H * D, -H * D, D, 1};
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "q_strides");
}

TEST_F(Validation, MisalignedPointer) {
    f.q = reinterpret_cast<const char*>(q.data()) + 2;  // not on a 4-byte f32 boundary
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "q");
    EXPECT_NE(std::string(flash_attn_last_error()).find("aligned"), std::string::npos);
}

TEST_F(Validation, MisalignedLse) {
    std::vector<float> lse(B * H * S + 1);
    f.lse = reinterpret_cast<float*>(reinterpret_cast<char*>(lse.data()) + 1);
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "lse");
}

TEST_F(Validation, HostAndDevicePointersMixed) {
    if (!backend_usable(Backend::CUDA)) GTEST_SKIP() << "needs a usable CUDA device";
    Memory dev(Backend::CUDA, kElems * sizeof(float));
    f.k = dev.get();
    expect_fwd_error(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "mix");
}

TEST_F(Validation, WorkspaceTooSmall) {
    if (!backend_usable(Backend::CUDA)) GTEST_SKIP() << "needs a usable CUDA device (the CPU "
                                                        "backend needs no workspace)";
    Memory dq_(Backend::CUDA, kElems * 4), dk_(Backend::CUDA, kElems * 4),
        dv_(Backend::CUDA, kElems * 4), q_(Backend::CUDA, kElems * 4), k_(Backend::CUDA, kElems * 4),
        v_(Backend::CUDA, kElems * 4), o_(Backend::CUDA, kElems * 4), do_(Backend::CUDA, kElems * 4),
        ws(Backend::CUDA, 16);
    b.dq = dq_.get(), b.dk = dk_.get(), b.dv = dv_.get(), b.q = q_.get(), b.k = k_.get();
    b.v = v_.get(), b.out = o_.get(), b.dout = do_.get();
    size_t need = 0;
    ASSERT_EQ(flash_attn_backward_workspace_size(&b, &need), FLASH_ATTN_SUCCESS)
        << flash_attn_last_error();
    ASSERT_GT(need, 16u);
    b.workspace = ws.get();
    b.workspace_size = 16;
    EXPECT_EQ(flash_attn_bwd(&b), FLASH_ATTN_ERROR_WORKSPACE_TOO_SMALL);
    EXPECT_NE(std::string(flash_attn_last_error()).find("workspace_size"), std::string::npos);
}

TEST_F(Validation, WorkspaceQueries) {
    size_t bytes = 123;
    EXPECT_EQ(flash_attn_forward_workspace_size(&f, &bytes), FLASH_ATTN_SUCCESS);
    EXPECT_EQ(bytes, 0u);  // the CPU backend allocates its own scratch
    EXPECT_EQ(flash_attn_backward_workspace_size(&b, nullptr), FLASH_ATTN_ERROR_INVALID_ARGUMENT);
    f.num_heads_k = 3;
    EXPECT_EQ(flash_attn_forward_workspace_size(&f, &bytes), FLASH_ATTN_ERROR_INVALID_ARGUMENT);
}

TEST_F(Validation, MinimalApiNullParamsAndHugeSizes) {
    std::vector<uint16_t> x(kElems, 0x3c00), o(kElems, 0x7e00);
    EXPECT_EQ(flash_attn_forward(x.data(), x.data(), x.data(), o.data(), nullptr),
              FLASH_ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(flash_attn_last_error()).find("params"), std::string::npos);
    FlashAttnParams p{B, S, H, D, false, 0.25f};
    p.seq_len = size_t{1} << 40;
    EXPECT_EQ(flash_attn_forward(x.data(), x.data(), x.data(), o.data(), &p),
              FLASH_ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(flash_attn_last_error()).find("seq_len"), std::string::npos);
    p.seq_len = S;
    EXPECT_EQ(flash_attn_backward(x.data(), x.data(), x.data(), x.data(), x.data(), o.data(),
                                  nullptr, o.data(), &p),
              FLASH_ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(flash_attn_last_error()).find("dk is NULL"), std::string::npos);
    for (uint16_t h : o) ASSERT_EQ(h, 0x7e00);
}

TEST(Info, InfoQueryAndThreads) {
    EXPECT_EQ(flash_attn_get_info(nullptr), FLASH_ATTN_ERROR_INVALID_ARGUMENT);
    FlashAttnInfo info;
    info.struct_size = 4;
    EXPECT_EQ(flash_attn_get_info(&info), FLASH_ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(flash_attn_cpu_set_num_threads(-1), FLASH_ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(flash_attn_last_error()).find("num_threads"), std::string::npos);
}

TEST(Status, EveryCodeHasAString) {
    for (int s = FLASH_ATTN_SUCCESS; s <= FLASH_ATTN_ERROR_INTERNAL; ++s) {
        EXPECT_STRNE(flash_attn_status_string(s), "unknown status") << s;
    }
    EXPECT_STREQ(flash_attn_status_string(999), "unknown status");
}

}  // namespace
}  // namespace flashattn::test
