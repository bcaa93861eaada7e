#include "harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>

#include "common/half.h"
#include "tolerances.h"

namespace flashattn::test {

std::string layout_name(Layout l) {
    switch (l) {
        case Layout::Packed: return "packed";
        case Layout::Transposed: return "transposed";
        case Layout::Padded: return "padded";
        default: return "broadcastkv";
    }
}

std::string Case::name() const {
    static const char* dt[] = {"f16", "bf16", "f32"};
    std::ostringstream s;
    s << dt[dtype] << "_b" << batch << "_q" << seqlen_q << "_k" << seqlen_k << "_h" << heads_q << "x"
      << heads_k << "_d" << head_dim << (causal ? "_causal" : "") << "_" << layout_name(layout)
      << (with_lse ? "_lse" : "") << (caller_workspace ? "_ws" : "");
    return s.str();
}

ref::Dims Case::dims() const {
    return ref::Dims{batch, seqlen_q, seqlen_k, heads_q, heads_k, head_dim, causal, scale()};
}

float Case::scale() const { return 1.0f / std::sqrt(static_cast<float>(head_dim)); }

HostTensor::HostTensor(int dtype_, int64_t b_, int64_t s_, int64_t h_, int64_t d_, Layout layout)
    : dtype(dtype_), b(b_), s(s_), h(h_), d(d_) {
    switch (layout) {
        case Layout::Packed: strides = {s * h * d, h * d, d, 1}; break;
        case Layout::Transposed: strides = {h * s * d, d, s * d, 1}; break;
        case Layout::BroadcastKv: strides = {0, h * d, d, 1}; break;
        case Layout::Padded: {
            // Rows of a wider buffer; the 8-element gap keeps 16-byte alignment of every row.
            const int64_t row = h * d + 8;
            strides = {s * row, row, d, 1};
            break;
        }
    }
    storage.resize(static_cast<size_t>(offset(b - 1, s - 1, h - 1, d - 1) + 1) * elem_size());
}

double HostTensor::get(int64_t off) const {
    if (dtype == FLASH_ATTN_DTYPE_F32) {
        float f;
        std::memcpy(&f, &storage[off * 4], 4);
        return f;
    }
    uint16_t u;
    std::memcpy(&u, &storage[off * 2], 2);
    return dtype == FLASH_ATTN_DTYPE_F16 ? half_to_float(u) : bf16_to_float(u);
}

void HostTensor::set(int64_t off, double v) {
    const float f = static_cast<float>(v);
    if (dtype == FLASH_ATTN_DTYPE_F32) {
        std::memcpy(&storage[off * 4], &f, 4);
        return;
    }
    const uint16_t u = dtype == FLASH_ATTN_DTYPE_F16 ? float_to_half(f) : float_to_bf16(f);
    std::memcpy(&storage[off * 2], &u, 2);
}

bool HostTensor::is_nan(int64_t off) const { return std::isnan(get(off)); }

void HostTensor::randomize(std::mt19937_64& rng) {
    std::normal_distribution<double> dist(0.0, 1.0);
    const int64_t n = static_cast<int64_t>(storage.size() / elem_size());
    for (int64_t i = 0; i < n; ++i) set(i, dist(rng));
}

void HostTensor::poison() { std::memset(storage.data(), 0xff, storage.size()); }

std::vector<double> HostTensor::values() const {
    std::vector<double> v;
    v.reserve(static_cast<size_t>(b * s * h * d));
    for (int64_t bi = 0; bi < b; ++bi)
        for (int64_t si = 0; si < s; ++si)
            for (int64_t hi = 0; hi < h; ++hi)
                for (int64_t di = 0; di < d; ++di) v.push_back(get(offset(bi, si, hi, di)));
    return v;
}

double norm(const std::vector<double>& x) {
    double s = 0.0;
    for (double v : x) s += v * v;
    return std::sqrt(s);
}

double relative_error(const std::vector<double>& x, const std::vector<double>& ref, double floor) {
    double num = 0.0;
    for (size_t i = 0; i < x.size(); ++i) num += (x[i] - ref[i]) * (x[i] - ref[i]);
    const double den = std::max(norm(ref), floor);
    return den == 0.0 ? std::sqrt(num) : std::sqrt(num) / den;
}

double relative_error(const std::vector<double>& x, const std::vector<double>& ref) {
    return relative_error(x, ref, 0.0);
}

uint64_t fresh_seed() {
    if (const char* s = std::getenv("FLASHATTN_TEST_SEED")) return std::strtoull(s, nullptr, 10);
    return std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32);
}

void expect_fully_written(const HostTensor& t, const std::vector<uint8_t>& poisoned,
                          const char* what) {
    std::vector<bool> logical(t.storage.size() / t.elem_size(), false);
    int64_t unwritten = 0;
    for (int64_t bi = 0; bi < t.b; ++bi)
        for (int64_t si = 0; si < t.s; ++si)
            for (int64_t hi = 0; hi < t.h; ++hi)
                for (int64_t di = 0; di < t.d; ++di) {
                    const int64_t off = t.offset(bi, si, hi, di);
                    logical[off] = true;
                    if (t.is_nan(off)) {
                        if (unwritten++ == 0) {
                            ADD_FAILURE() << what << " not written (NaN) at [" << bi << ", " << si
                                          << ", " << hi << ", " << di << "]";
                        }
                    }
                }
    EXPECT_EQ(unwritten, 0) << what << ": elements left unwritten";
    int64_t clobbered = 0;
    const size_t es = t.elem_size();
    for (size_t e = 0; e < logical.size(); ++e) {
        if (!logical[e] && std::memcmp(&t.storage[e * es], &poisoned[e * es], es) != 0) ++clobbered;
    }
    EXPECT_EQ(clobbered, 0) << what << ": elements outside the tensor view were written";
}

namespace {

// The layout of the tensors other than k and v: packed where only k and v are broadcast.
Layout other_layout(Layout l) { return l == Layout::BroadcastKv ? Layout::Packed : l; }

void expect_lse(const std::vector<float>& got, const std::vector<double>& ref, double tol) {
    int64_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const bool ok = std::isinf(ref[i]) ? (std::isinf(got[i]) && got[i] < 0)
                                           : std::fabs(got[i] - ref[i]) <= tol;
        if (!ok && bad++ == 0) {
            ADD_FAILURE() << "lse[" << i << "] = " << got[i] << ", reference " << ref[i];
        }
    }
    EXPECT_EQ(bad, 0) << "lse entries out of tolerance " << tol;
}

}  // namespace

void check_forward(Backend backend, const Case& c) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE("seed " + std::to_string(seed) + " (set FLASHATTN_TEST_SEED to reproduce)");
    std::mt19937_64 rng(seed);
    const Layout dense = other_layout(c.layout);
    HostTensor q(c.dtype, c.batch, c.seqlen_q, c.heads_q, c.head_dim, dense);
    HostTensor k(c.dtype, c.batch, c.seqlen_k, c.heads_k, c.head_dim, c.layout);
    HostTensor v(c.dtype, c.batch, c.seqlen_k, c.heads_k, c.head_dim, c.layout);
    HostTensor out(c.dtype, c.batch, c.seqlen_q, c.heads_q, c.head_dim, dense);
    q.randomize(rng);
    k.randomize(rng);
    v.randomize(rng);
    out.poison();
    const std::vector<uint8_t> poisoned = out.storage;
    std::vector<float> lse(c.batch * c.heads_q * c.seqlen_q, std::nanf(""));

    Memory mq(backend, q.storage.size()), mk(backend, k.storage.size()),
        mv(backend, v.storage.size()), mo(backend, out.storage.size()),
        ml(backend, lse.size() * sizeof(float));
    mq.upload(q.storage.data());
    mk.upload(k.storage.data());
    mv.upload(v.storage.data());
    mo.upload(out.storage.data());
    ml.upload(lse.data());

    FlashAttnForwardArgs a;
    flash_attn_forward_args_init(&a);
    a.dtype = c.dtype;
    a.causal = c.causal;
    a.batch = c.batch;
    a.seqlen_q = c.seqlen_q;
    a.seqlen_k = c.seqlen_k;
    a.num_heads_q = c.heads_q;
    a.num_heads_k = c.heads_k;
    a.head_dim = c.head_dim;
    a.softmax_scale = c.scale();
    a.q = mq.get(), a.q_strides = q.strides;
    a.k = mk.get(), a.k_strides = k.strides;
    a.v = mv.get(), a.v_strides = v.strides;
    a.out = mo.get(), a.out_strides = out.strides;
    a.lse = c.with_lse ? static_cast<float*>(ml.get()) : nullptr;
    std::unique_ptr<Memory> mw;
    if (c.caller_workspace) {
        size_t bytes = 0;
        ASSERT_EQ(flash_attn_forward_workspace_size(&a, &bytes), FLASH_ATTN_SUCCESS)
            << flash_attn_last_error();
        const size_t alloc = std::max<size_t>(bytes, 1);
        mw = std::make_unique<Memory>(backend, alloc);
        mw->upload(std::vector<uint8_t>(alloc, 0xff).data());  // NaN patterns
        a.workspace = mw->get();
        a.workspace_size = bytes;
    }
    const int st = flash_attn_fwd(&a);
    ASSERT_EQ(st, FLASH_ATTN_SUCCESS) << flash_attn_last_error();
    mo.download(out.storage.data());
    ml.download(lse.data());

    expect_fully_written(out, poisoned, "out");
    const ref::Dims d = c.dims();
    std::vector<double> ro(q.b * q.s * q.h * q.d), rl(lse.size());
    ref::forward(d, q.values().data(), k.values().data(), v.values().data(), ro.data(), rl.data());
    const Tolerance tol = tolerance(c.dtype, backend == Backend::CUDA);
    const std::vector<double> got = out.values();
    EXPECT_LE(relative_error(got, ro), tol.out);
    if (c.with_lse) {
        expect_lse(lse, rl, tol.lse);
    } else {
        for (float x : lse) ASSERT_TRUE(std::isnan(x)) << "lse written though not requested";
    }
    // A row that sees no key: exactly zero output, never NaN.
    for (int64_t bi = 0; bi < c.batch; ++bi)
        for (int64_t hi = 0; hi < c.heads_q; ++hi)
            for (int64_t i = 0; i < c.seqlen_q; ++i) {
                if (!std::isinf(rl[(bi * c.heads_q + hi) * c.seqlen_q + i])) continue;
                for (int64_t di = 0; di < c.head_dim; ++di)
                    ASSERT_EQ(out.get(out.offset(bi, i, hi, di)), 0.0)
                        << "masked row " << i << " of head " << hi << " not zero";
            }
}

void check_backward(Backend backend, const Case& c) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE("seed " + std::to_string(seed) + " (set FLASHATTN_TEST_SEED to reproduce)");
    std::mt19937_64 rng(seed);
    const int dt = c.dtype;
    const Layout dense = other_layout(c.layout);
    HostTensor q(dt, c.batch, c.seqlen_q, c.heads_q, c.head_dim, dense);
    HostTensor k(dt, c.batch, c.seqlen_k, c.heads_k, c.head_dim, c.layout);
    HostTensor v(dt, c.batch, c.seqlen_k, c.heads_k, c.head_dim, c.layout);
    HostTensor dout(dt, c.batch, c.seqlen_q, c.heads_q, c.head_dim, dense);
    HostTensor out(dt, c.batch, c.seqlen_q, c.heads_q, c.head_dim, dense);
    HostTensor dq(dt, c.batch, c.seqlen_q, c.heads_q, c.head_dim, dense);
    HostTensor dk(dt, c.batch, c.seqlen_k, c.heads_k, c.head_dim, dense);
    HostTensor dv(dt, c.batch, c.seqlen_k, c.heads_k, c.head_dim, dense);
    q.randomize(rng);
    k.randomize(rng);
    v.randomize(rng);
    dout.randomize(rng);
    out.randomize(rng);  // gaps get junk; the logical part is the forward output, set below

    // The forward output and LSE as a caller would pass them: the exact result in the dtype.
    const ref::Dims d = c.dims();
    std::vector<double> ro(q.b * q.s * q.h * q.d), rl(c.batch * c.heads_q * c.seqlen_q);
    ref::forward(d, q.values().data(), k.values().data(), v.values().data(), ro.data(), rl.data());
    size_t n = 0;
    for (int64_t bi = 0; bi < out.b; ++bi)
        for (int64_t si = 0; si < out.s; ++si)
            for (int64_t hi = 0; hi < out.h; ++hi)
                for (int64_t di = 0; di < out.d; ++di) out.set(out.offset(bi, si, hi, di), ro[n++]);
    std::vector<float> lse(rl.begin(), rl.end());

    for (HostTensor* g : {&dq, &dk, &dv}) g->poison();
    const std::vector<uint8_t> pq = dq.storage, pk = dk.storage, pv = dv.storage;

    Memory mq(backend, q.storage.size()), mk(backend, k.storage.size()),
        mv(backend, v.storage.size()), mdo(backend, dout.storage.size()),
        mo(backend, out.storage.size()), mdq(backend, dq.storage.size()),
        mdk(backend, dk.storage.size()), mdv(backend, dv.storage.size()),
        ml(backend, lse.size() * sizeof(float));
    mq.upload(q.storage.data());
    mk.upload(k.storage.data());
    mv.upload(v.storage.data());
    mdo.upload(dout.storage.data());
    mo.upload(out.storage.data());
    mdq.upload(dq.storage.data());
    mdk.upload(dk.storage.data());
    mdv.upload(dv.storage.data());
    ml.upload(lse.data());

    FlashAttnBackwardArgs a;
    flash_attn_backward_args_init(&a);
    a.dtype = dt;
    a.causal = c.causal;
    a.batch = c.batch;
    a.seqlen_q = c.seqlen_q;
    a.seqlen_k = c.seqlen_k;
    a.num_heads_q = c.heads_q;
    a.num_heads_k = c.heads_k;
    a.head_dim = c.head_dim;
    a.softmax_scale = c.scale();
    a.dout = mdo.get(), a.dout_strides = dout.strides;
    a.q = mq.get(), a.q_strides = q.strides;
    a.k = mk.get(), a.k_strides = k.strides;
    a.v = mv.get(), a.v_strides = v.strides;
    a.out = mo.get(), a.out_strides = out.strides;
    a.lse = c.with_lse ? static_cast<const float*>(ml.get()) : nullptr;
    a.dq = mdq.get(), a.dq_strides = dq.strides;
    a.dk = mdk.get(), a.dk_strides = dk.strides;
    a.dv = mdv.get(), a.dv_strides = dv.strides;
    const int st = flash_attn_bwd(&a);
    ASSERT_EQ(st, FLASH_ATTN_SUCCESS) << flash_attn_last_error();
    mdq.download(dq.storage.data());
    mdk.download(dk.storage.data());
    mdv.download(dv.storage.data());
    expect_fully_written(dq, pq, "dq");
    expect_fully_written(dk, pk, "dk");
    expect_fully_written(dv, pv, "dv");

    std::vector<double> gq(ro.size()), gk(k.b * k.s * k.h * k.d), gv(gk.size());
    ref::backward(d, q.values().data(), k.values().data(), v.values().data(),
                  dout.values().data(), gq.data(), gk.data(), gv.data());
    const Tolerance tol = tolerance(dt, backend == Backend::CUDA);
    // dq and dk vanish by cancellation where rows see a single key (the softmax Jacobian is
    // zero there), leaving only rounding noise; dV = P^T dO never cancels. So their error is
    // measured against at least a quarter of dV's norm (scaled to their element count), which
    // only matters when they (nearly) vanish.
    const double floor_k = 0.25 * norm(gv);
    const double floor_q = floor_k * std::sqrt(double(gq.size()) / double(gv.size()));
    EXPECT_LE(relative_error(dq.values(), gq, floor_q), tol.grad) << "dq";
    EXPECT_LE(relative_error(dk.values(), gk, floor_k), tol.grad) << "dk";
    EXPECT_LE(relative_error(dv.values(), gv), tol.grad) << "dv";
}

}  // namespace flashattn::test
