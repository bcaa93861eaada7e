// Shared machinery of the suites: host tensors in any dtype and layout, random fills, poison,
// relative errors, and one checked forward and backward run against the float64 reference.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "device_memory.h"
#include "flashattn/flashattn.h"
#include "reference.h"

namespace flashattn::test {

// How a [batch, seq, heads, head_dim] tensor sits in its buffer.
enum class Layout {
    Packed,      // contiguous [b, s, h, d]
    Transposed,  // a contiguous [b, h, s, d] buffer seen through its transposed view
    Padded,      // a slice of a wider row (as q out of a fused qkv projection): gaps between rows
    BroadcastKv, // k and v shared by every batch (batch stride 0), the other tensors packed
};
std::string layout_name(Layout l);

struct Case {
    int dtype = FLASH_ATTN_DTYPE_F32;
    int64_t batch = 1, seqlen_q = 1, seqlen_k = 1, heads_q = 1, heads_k = 1, head_dim = 64;
    bool causal = false;
    Layout layout = Layout::Packed;
    bool with_lse = true;  // forward: request LSE; backward: pass the forward LSE
    // forward: pass a poisoned workspace of the size flash_attn_forward_workspace_size gives,
    // instead of letting the library allocate one
    bool caller_workspace = false;
    std::string name() const;
    ref::Dims dims() const;
    float scale() const;
};

// A host tensor: raw storage in the dtype (gaps included) and its logical view.
struct HostTensor {
    int dtype;
    int64_t b, s, h, d;
    FlashAttnStrides strides;
    std::vector<uint8_t> storage;

    HostTensor(int dtype, int64_t b, int64_t s, int64_t h, int64_t d, Layout layout);
    size_t elem_size() const { return dtype == FLASH_ATTN_DTYPE_F32 ? 4 : 2; }
    int64_t offset(int64_t bi, int64_t si, int64_t hi, int64_t di) const {
        return bi * strides.batch + si * strides.seq + hi * strides.head + di;
    }
    double get(int64_t off) const;
    void set(int64_t off, double v);  // rounds to the dtype
    bool is_nan(int64_t off) const;
    // Every storage element (gaps too) to normal(0, 1) values rounded to the dtype.
    void randomize(std::mt19937_64& rng);
    void poison();  // every storage byte to a NaN pattern
    // Logical values, packed [b, s, h, d].
    std::vector<double> values() const;
};

double relative_error(const std::vector<double>& x, const std::vector<double>& ref);
// ||x - ref|| / max(||ref||, floor): for quantities that can vanish by cancellation.
double relative_error(const std::vector<double>& x, const std::vector<double>& ref, double floor);
double norm(const std::vector<double>& x);

// A fresh seed per test (FLASHATTN_TEST_SEED reproduces one), printed on failure by the caller.
uint64_t fresh_seed();

// Checks that every logical element was written (no NaN left) and every gap byte is still the
// poison, i.e. the call wrote exactly its output. Reports failures with `what`.
void expect_fully_written(const HostTensor& t, const std::vector<uint8_t>& poisoned,
                          const char* what);

// One forward through the C ABI on `backend`, checked against the reference: out, lse, and
// that outputs were fully and only written.
void check_forward(Backend backend, const Case& c);

// One backward, checked likewise (dq, dk, dv).
void check_backward(Backend backend, const Case& c);

}  // namespace flashattn::test
