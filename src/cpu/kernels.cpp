#include "cpu/kernels.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "common/half.h"

// Function multi-versioning: each FA_MULTIVERSION function is compiled once per listed ISA and
// dispatched at load time (GCC/Clang on ELF). Helpers are always_inline so they are compiled
// into every clone.
#if defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define FA_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FA_MULTIVERSION
#endif
#define FA_INLINE inline __attribute__((always_inline))

// Panel vectors are passed between always_inline helpers only, never across a real call, so
// GCC's note that their calling convention differs between ISA levels does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace flashattn::cpu {
namespace {

// The vector type of the inner loops: 8 floats, one AVX2 register (the AVX-512 clone uses the
// same width in its VL forms). A wider generic vector has no register mode below AVX-512, so
// GCC keeps it in memory and the AVX2 clone ran about 8 times slower; a kPanel-wide panel is
// kPanel / kVec of these.
constexpr int kVec = 8;
typedef float vfloat __attribute__((vector_size(kVec * sizeof(float))));
constexpr int kVecsPerPanel = kPanel / kVec;
static_assert(kPanel % kVec == 0, "panels are whole vectors");

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// 2^x with about 2 ulp error for x in [-126, 127]; exactly 0 below -126 (so -inf gives 0).
// Round-to-nearest by the 1.5 * 2^23 trick, then a degree-7 Taylor polynomial of 2^f on
// |f| <= 0.5 (truncation error < 1e-8) and the integer part added into the exponent.
FA_INLINE float fast_exp2(float x) {
    const float xc = x < -126.0f ? -126.0f : (x > 127.0f ? 127.0f : x);
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
    const float t = xc + kRound;
    const float n = t - kRound;
    const float f = xc - n;
    const int32_t ni = static_cast<int32_t>(float_bits(t) - float_bits(kRound));
    float p = 1.525273380405984e-05f;
    p = p * f + 1.5403530393381608e-04f;
    p = p * f + 1.3333558146428443e-03f;
    p = p * f + 9.618129107628477e-03f;
    p = p * f + 5.550410866482158e-02f;
    p = p * f + 2.402265069591007e-01f;
    p = p * f + 6.931471805599453e-01f;
    p = p * f + 1.0f;
    const float r = bits_float(float_bits(p) + (static_cast<uint32_t>(ni) << 23));
    return x < -126.0f ? 0.0f : r;
}

FA_INLINE vfloat load_vec(const float* p) { return *reinterpret_cast<const vfloat*>(p); }
FA_INLINE void store_vec(float* p, vfloat v) { *reinterpret_cast<vfloat*>(p) = v; }
FA_INLINE vfloat splat(float x) { return vfloat{} + x; }
FA_INLINE float horizontal_max(vfloat v) {
    float m = v[0];
    for (int i = 1; i < kVec; ++i) m = v[i] > m ? v[i] : m;
    return m;
}
FA_INLINE float horizontal_sum(vfloat v) {
    float s = 0.0f;
    for (int i = 0; i < kVec; ++i) s += v[i];
    return s;
}

template <int MR>
FA_INLINE void micro_tile(int k, const float* __restrict A, int lda, const float* __restrict B,
                          int ldb, float* __restrict C, int ldc, bool accumulate) {
    vfloat acc[MR][kVecsPerPanel];
    for (int r = 0; r < MR; ++r)
        for (int v = 0; v < kVecsPerPanel; ++v)
            acc[r][v] = accumulate ? load_vec(C + r * ldc + v * kVec) : vfloat{};
    for (int p = 0; p < k; ++p) {
        const float* b = B + static_cast<int64_t>(p) * ldb;
        vfloat bv[kVecsPerPanel];
        for (int v = 0; v < kVecsPerPanel; ++v) bv[v] = load_vec(b + v * kVec);
        // scalar * vector: a broadcast from memory (an explicit splat compiles to lane inserts
        // in the clones)
        for (int r = 0; r < MR; ++r)
            for (int v = 0; v < kVecsPerPanel; ++v) acc[r][v] += A[r * lda + p] * bv[v];
    }
    for (int r = 0; r < MR; ++r)
        for (int v = 0; v < kVecsPerPanel; ++v) store_vec(C + r * ldc + v * kVec, acc[r][v]);
}

template <typename T>
FA_INLINE float to_float(T x);
template <>
FA_INLINE float to_float(float x) { return x; }

struct F16 { uint16_t bits; };
struct BF16 { uint16_t bits; };
template <>
FA_INLINE float to_float(F16 x) { return half_to_float(x.bits); }
template <>
FA_INLINE float to_float(BF16 x) { return bf16_to_float(x.bits); }

template <typename T>
FA_INLINE T from_float(float x);
template <>
FA_INLINE float from_float(float x) { return x; }
template <>
FA_INLINE F16 from_float(float x) { return F16{float_to_half(x)}; }
template <>
FA_INLINE BF16 from_float(float x) { return BF16{float_to_bf16(x)}; }

// Calls f with a typed null pointer selecting the element type of dtype.
template <typename F>
FA_INLINE auto with_type(DType dtype, F&& f) {
    switch (dtype) {
        case DType::F16: return f(static_cast<F16*>(nullptr));
        case DType::BF16: return f(static_cast<BF16*>(nullptr));
        default: return f(static_cast<float*>(nullptr));
    }
}

}  // namespace

// Register blocking: kMr rows x one panel of C live in vector registers across the k loop
// (12 of them), B panels are reused across row blocks from cache.
FA_MULTIVERSION
void gemm(int m, int n, int k, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
          bool accumulate) {
    constexpr int kMr = 6;
    for (int j = 0; j < n; j += kPanel) {
        int i = 0;
        for (; i + kMr <= m; i += kMr) {
            micro_tile<kMr>(k, A + i * lda, lda, B + j, ldb, C + i * ldc + j, ldc, accumulate);
        }
        const float* a = A + i * lda;
        float* c = C + i * ldc + j;
        switch (m - i) {
            case 5: micro_tile<5>(k, a, lda, B + j, ldb, c, ldc, accumulate); break;
            case 4: micro_tile<4>(k, a, lda, B + j, ldb, c, ldc, accumulate); break;
            case 3: micro_tile<3>(k, a, lda, B + j, ldb, c, ldc, accumulate); break;
            case 2: micro_tile<2>(k, a, lda, B + j, ldb, c, ldc, accumulate); break;
            case 1: micro_tile<1>(k, a, lda, B + j, ldb, c, ldc, accumulate); break;
            default: break;
        }
    }
}

FA_MULTIVERSION
void online_softmax_block(float* S, int lds, int rows, int ncols, const int* nvis,
                          float scale_log2, float* m, float* l, float* O, int ldo, int ocols) {
    const int vecs = ncols / kVec;
    for (int r = 0; r < rows; ++r) {
        float* s = S + static_cast<int64_t>(r) * lds;
        const int nv = nvis[r];
        for (int c = 0; c < ncols; ++c) s[c] = c < nv ? s[c] * scale_log2 : kNegInf;
        // Reductions across panels in vector registers: plain loops would not vectorize
        // without reassociation, which the library does not enable.
        vfloat vmax = splat(m[r]);
        for (int p = 0; p < vecs; ++p) {
            const vfloat x = load_vec(s + p * kVec);
            vmax = vmax > x ? vmax : x;
        }
        const float mx = horizontal_max(vmax);
        if (mx == kNegInf) {  // nothing visible yet: probabilities 0, state unchanged
            for (int c = 0; c < ncols; ++c) s[c] = 0.0f;
            continue;
        }
        const float alpha = fast_exp2(m[r] - mx);  // m = -inf gives 0
        for (int c = 0; c < ncols; ++c) s[c] = fast_exp2(s[c] - mx);
        vfloat vsum = {};
        for (int p = 0; p < vecs; ++p) vsum += load_vec(s + p * kVec);
        l[r] = l[r] * alpha + horizontal_sum(vsum);
        m[r] = mx;
        float* o = O + static_cast<int64_t>(r) * ldo;
        for (int c = 0; c < ocols; ++c) o[c] *= alpha;
    }
}

FA_MULTIVERSION
void probabilities_block(float* S, int lds, int rows, int ncols, const int* nvis, float scale_log2,
                         const float* lse_log2) {
    for (int r = 0; r < rows; ++r) {
        float* s = S + static_cast<int64_t>(r) * lds;
        const int nv = nvis[r];
        const float shift = lse_log2[r];
        for (int c = 0; c < ncols; ++c) {
            s[c] = c < nv ? fast_exp2(s[c] * scale_log2 - shift) : 0.0f;
        }
    }
}

FA_MULTIVERSION
void softmax_grad_block(const float* P, float* dP, int ld, int rows, int ncols,
                        const float* delta) {
    for (int r = 0; r < rows; ++r) {
        const float* p = P + static_cast<int64_t>(r) * ld;
        float* dp = dP + static_cast<int64_t>(r) * ld;
        const float d = delta[r];
        for (int c = 0; c < ncols; ++c) dp[c] = p[c] * (dp[c] - d);
    }
}

void transpose(int rows, int cols, const float* src, int lds, float* dst, int ldd) {
    constexpr int kTile = 16;  // cache-friendly tiles
    for (int r0 = 0; r0 < rows; r0 += kTile) {
        for (int c0 = 0; c0 < cols; c0 += kTile) {
            const int r1 = r0 + kTile < rows ? r0 + kTile : rows;
            const int c1 = c0 + kTile < cols ? c0 + kTile : cols;
            for (int c = c0; c < c1; ++c) {
                for (int r = r0; r < r1; ++r) dst[c * ldd + r] = src[r * lds + c];
            }
        }
    }
}

FA_MULTIVERSION
void load_row(DType dtype, const void* base, int64_t offset, int n, float* dst) {
    with_type(dtype, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        const T* src = static_cast<const T*>(base) + offset;
        for (int c = 0; c < n; ++c) dst[c] = to_float(src[c]);
        return 0;
    });
}

FA_MULTIVERSION
void load_row_as_column(DType dtype, const void* base, int64_t offset, int n, float* dst,
                        int ldd) {
    with_type(dtype, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        const T* src = static_cast<const T*>(base) + offset;
        for (int c = 0; c < n; ++c) dst[static_cast<int64_t>(c) * ldd] = to_float(src[c]);
        return 0;
    });
}

FA_MULTIVERSION
void store_row(DType dtype, void* base, int64_t offset, int n, const float* src, float scale) {
    with_type(dtype, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        T* dst = static_cast<T*>(base) + offset;
        for (int c = 0; c < n; ++c) dst[c] = from_float<T>(src[c] * scale);
        return 0;
    });
}

FA_MULTIVERSION
float dot_rows(DType dtype, const void* a, int64_t a_offset, const void* b, int64_t b_offset,
               int n) {
    return with_type(dtype, [&](auto* tag) {
        using T = std::remove_pointer_t<decltype(tag)>;
        const T* x = static_cast<const T*>(a) + a_offset;
        const T* y = static_cast<const T*>(b) + b_offset;
        float sum = 0.0f;
        for (int c = 0; c < n; ++c) sum += to_float(x[c]) * to_float(y[c]);
        return sum;
    });
}

}  // namespace flashattn::cpu
