// The CUDA backend's one dispatch file: device discovery, pointer location, workspace layout,
// and the choice of compiled kernel for a validated problem (dtype, head dim -> template).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <iterator>
#include <vector>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "api/backend.h"
#include "cuda/common/params.h"
#include "cuda/common/prepass.cuh"
#include "cuda/sm80/tuning.h"
#include "cuda/sm90/tensor_map.h"
#include "cuda/sm90/tuning.h"

namespace flashattn::cuda {

namespace sm80 {
// Defined in src/cuda/instantiations/ (generated).
template <typename T, typename OutT, int kD>
cudaError_t launch_fwd(const FwdParams& p, cudaStream_t stream);
template <typename T, typename OutT, int kD>
cudaError_t launch_decode(const FwdParams& p, bool overlap, cudaStream_t stream);
template <typename T, typename OutT, int kD>
cudaError_t launch_bwd(const BwdParams& p, cudaStream_t stream);
}  // namespace sm80

#if FLASHATTN_HAVE_SM90
namespace sm90 {
template <typename T, int kD>
cudaError_t launch_fwd(const FwdParams& p, int sms, cudaStream_t stream);
}  // namespace sm90
#endif

namespace {

constexpr int kMinMajor = 8;  // sm_80 and newer

Status device_error(cudaError_t e, const char* what) {
    cudaGetLastError();  // clear a non-sticky error so later calls start clean
    return fail(FLASH_ATTN_ERROR_DEVICE, "%s: %s (%s)", what, cudaGetErrorString(e),
                cudaGetErrorName(e));
}

#define FA_CUDA_TRY(call, what)                                   \
    do {                                                          \
        cudaError_t fa_err_ = (call);                             \
        if (fa_err_ != cudaSuccess) return device_error(fa_err_, what); \
    } while (0)

// Makes `device` current for the scope and restores the caller's device afterwards.
class DeviceGuard {
public:
    explicit DeviceGuard(int device) {
        if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
        if (previous_ != device) status_ = cudaSetDevice(device);
    }
    ~DeviceGuard() {
        int now = -1;
        if (previous_ >= 0 && cudaGetDevice(&now) == cudaSuccess && now != previous_)
            cudaSetDevice(previous_);
    }
    cudaError_t status() const { return status_; }

private:
    int previous_ = -1;
    cudaError_t status_ = cudaSuccess;
};

// Workspace carved into 256-byte aligned pieces; sized by a dry run with base == nullptr.
class Carver {
public:
    explicit Carver(void* base) : base_(static_cast<char*>(base)) {}
    void* take(size_t bytes) {
        void* p = base_ ? base_ + used_ : nullptr;
        used_ += (bytes + 255) / 256 * 256;
        return p;
    }
    size_t used() const { return used_; }

private:
    char* base_;
    size_t used_ = 0;
};

// Owns stream-ordered scratch when the caller gave no workspace.
class Scratch {
public:
    Scratch(void* given, size_t bytes, cudaStream_t stream) : stream_(stream) {
        ptr_ = given;
        if (ptr_ == nullptr && bytes > 0) {
            status_ = cudaMallocAsync(&owned_, bytes, stream);
            ptr_ = owned_;
        }
    }
    ~Scratch() {
        if (owned_ != nullptr) cudaFreeAsync(owned_, stream_);
    }
    void* get() const { return ptr_; }
    cudaError_t status() const { return status_; }

private:
    cudaStream_t stream_;
    void* ptr_ = nullptr;
    void* owned_ = nullptr;
    cudaError_t status_ = cudaSuccess;
};

int kernel_head_dim(int64_t d) {
    for (int kd : sm80::kHeadDims)
        if (d <= kd) return kd;
    return 0;
}

TensorArg arg(const TensorIn& t) { return TensorArg{t.data, t.s.batch, t.s.seq, t.s.head}; }

// Grid dimensions y and z carry heads_k and batch; the row count must fit an int.
Status check_launch_limits(const Shape& s) {
    if (s.batch > 65535 || s.heads_k > 65535) {
        return fail(FLASH_ATTN_ERROR_UNSUPPORTED,
                    "batch %lld / num_heads_k %lld unsupported by the CUDA backend: at most 65535",
                    static_cast<long long>(s.batch), static_cast<long long>(s.heads_k));
    }
    if (s.seqlen_q * s.group() > INT32_MAX) {
        return fail(FLASH_ATTN_ERROR_UNSUPPORTED,
                    "seqlen_q * (num_heads_q / num_heads_k) = %lld unsupported by the CUDA "
                    "backend: at most %d",
                    static_cast<long long>(s.seqlen_q * s.group()), INT32_MAX);
    }
    return FLASH_ATTN_SUCCESS;
}

void fill_common(const Shape& s, AttnParams* a) {
    a->batch = static_cast<int>(s.batch);
    a->seqlen_q = static_cast<int>(s.seqlen_q);
    a->seqlen_k = static_cast<int>(s.seqlen_k);
    a->heads_q = static_cast<int>(s.heads_q);
    a->heads_k = static_cast<int>(s.heads_k);
    a->group = static_cast<int>(s.group());
    a->head_dim = static_cast<int>(s.head_dim);
    a->rows = static_cast<int>(s.seqlen_q * s.group());
    a->causal = s.causal;
    a->causal_offset = static_cast<int>(s.seqlen_k - s.seqlen_q);
    a->softmax_scale = s.softmax_scale;
    a->tensor_scales = nullptr;
}

size_t packed_f16_bytes(int64_t b, int64_t s, int64_t h, int64_t d) {
    return static_cast<size_t>(b * s * h * d) * sizeof(__half);
}

// The f32 path converts inputs into scaled, packed f16 copies in the workspace.
struct F32Inputs {
    float* scales = nullptr;  // 2 * kNumScales floats
    void* packed[kNumScales] = {};
};

F32Inputs carve_f32_inputs(Carver& c, const Shape& s, bool with_dout) {
    F32Inputs f;
    f.scales = static_cast<float*>(c.take(2 * kNumScales * sizeof(float)));
    f.packed[kScaleQ] = c.take(packed_f16_bytes(s.batch, s.seqlen_q, s.heads_q, s.head_dim));
    f.packed[kScaleK] = c.take(packed_f16_bytes(s.batch, s.seqlen_k, s.heads_k, s.head_dim));
    f.packed[kScaleV] = c.take(packed_f16_bytes(s.batch, s.seqlen_k, s.heads_k, s.head_dim));
    if (with_dout) f.packed[kScaleDout] = c.take(packed_f16_bytes(s.batch, s.seqlen_q, s.heads_q, s.head_dim));
    return f;
}

// Runs the conversion and points the params at the converted copies.
cudaError_t use_f32_inputs(const F32Inputs& f, const Shape& s, AttnParams* a, TensorArg* dout,
                           cudaStream_t stream) {
    const Dims4 dq{a->batch, a->seqlen_q, a->heads_q, a->head_dim};
    const Dims4 dk{a->batch, a->seqlen_k, a->heads_k, a->head_dim};
    const TensorArg in[kNumScales] = {a->q, a->k, a->v, dout ? *dout : TensorArg{}};
    const Dims4 dims[kNumScales] = {dq, dk, dk, dq};
    const int count = dout ? 4 : 3;
    if (cudaError_t e = launch_scale_inputs(in, dims, count, f.scales, f.packed, stream)) return e;
    auto packed = [&](int i, int64_t heads) {
        const int64_t d = s.head_dim;
        const int64_t seq = i == kScaleK || i == kScaleV ? s.seqlen_k : s.seqlen_q;
        return TensorArg{f.packed[i], seq * heads * d, heads * d, d};
    };
    a->q = packed(kScaleQ, s.heads_q);
    a->k = packed(kScaleK, s.heads_k);
    a->v = packed(kScaleV, s.heads_k);
    if (dout) *dout = packed(kScaleDout, s.heads_q);
    a->tensor_scales = f.scales + kNumScales;
    return cudaSuccess;
}

// One compiled sm_80 instantiation: compute type T, output type OutT, head dim kD.
template <typename T_, typename OutT_, int kD_>
struct Sm80Kernel {
    using T = T_;
    using OutT = OutT_;
    static constexpr int kD = kD_;
};

template <typename T>
struct Tag {
    using type = T;
};

// Calls f(Sm80Kernel<...>{}) with the instantiation for dtype `dt` and kernel_head_dim `kd`:
// the one switch from runtime values to templates, for every sm_80 launcher.
template <typename F>
cudaError_t with_sm80_kernel(DType dt, int kd, F&& f) {
    static_assert(std::size(sm80::kHeadDims) == 7, "one case per sm80 head dim");
    auto dims = [&](auto t, auto o) -> cudaError_t {
        using T = typename decltype(t)::type;
        using OutT = typename decltype(o)::type;
        switch (kd) {
            case 32: return f(Sm80Kernel<T, OutT, 32>{});
            case 64: return f(Sm80Kernel<T, OutT, 64>{});
            case 96: return f(Sm80Kernel<T, OutT, 96>{});
            case 128: return f(Sm80Kernel<T, OutT, 128>{});
            case 160: return f(Sm80Kernel<T, OutT, 160>{});
            case 192: return f(Sm80Kernel<T, OutT, 192>{});
            default: return f(Sm80Kernel<T, OutT, 256>{});
        }
    };
    switch (dt) {
        case DType::F16: return dims(Tag<__half>{}, Tag<__half>{});
        case DType::BF16: return dims(Tag<__nv_bfloat16>{}, Tag<__nv_bfloat16>{});
        default: return dims(Tag<__half>{}, Tag<float>{});  // f32: scaled f16 tiles
    }
}

#if FLASHATTN_HAVE_SM90
template <typename T>
cudaError_t run_fwd_sm90(int64_t d, const FwdParams& p, int sms, cudaStream_t st) {
    static_assert(std::size(sm90::kHeadDims) == 5, "one case per sm90 head dim");
    switch (d) {
        case 64: return sm90::launch_fwd<T, 64>(p, sms, st);
        case 96: return sm90::launch_fwd<T, 96>(p, sms, st);
        case 128: return sm90::launch_fwd<T, 128>(p, sms, st);
        case 192: return sm90::launch_fwd<T, 192>(p, sms, st);
        default: return sm90::launch_fwd<T, 256>(p, sms, st);
    }
}
#endif

// What the dispatch needs to know of a device, queried once per device per process.
struct DeviceInfo {
    int major = 0, minor = 0, sms = 1, smem_per_sm = 0;
};

// Every device the runtime sees, in its numbering.
const std::vector<DeviceInfo>& devices() {
    static const std::vector<DeviceInfo> infos = [] {
        int n = 0;
        if (cudaGetDeviceCount(&n) != cudaSuccess) n = 0;
        std::vector<DeviceInfo> v(static_cast<size_t>(n));
        for (int d = 0; d < n; ++d) {
            DeviceInfo& i = v[static_cast<size_t>(d)];
            if (cudaDeviceGetAttribute(&i.major, cudaDevAttrComputeCapabilityMajor, d) ||
                cudaDeviceGetAttribute(&i.minor, cudaDevAttrComputeCapabilityMinor, d) ||
                cudaDeviceGetAttribute(&i.sms, cudaDevAttrMultiProcessorCount, d) ||
                cudaDeviceGetAttribute(&i.smem_per_sm,
                                       cudaDevAttrMaxSharedMemoryPerMultiprocessor, d))
                i = DeviceInfo{};  // unknown: unusable
        }
        cudaGetLastError();
        return v;
    }();
    return infos;
}

const DeviceInfo& device_info(int device) {
    static const DeviceInfo unknown;
    const auto& all = devices();
    return device >= 0 && static_cast<size_t>(device) < all.size()
               ? all[static_cast<size_t>(device)]
               : unknown;
}

// The sm_90a forward serves f16 and bf16 at its head dims on sm_90 devices whose inputs and
// output TMA can describe; everything else runs on the sm_80 kernels.
// FLASHATTN_DISABLE_SM90=1 forces the sm_80 kernels (the tests run both on a Hopper GPU).
bool sm90_applies(const Shape& s, const FwdParams& p, const DeviceInfo& dev) {
#if FLASHATTN_HAVE_SM90
    const auto* dims = std::end(sm90::kHeadDims);
    if (s.dtype == DType::F32 || std::find(std::begin(sm90::kHeadDims), dims, s.head_dim) == dims)
        return false;
    const char* off = std::getenv("FLASHATTN_DISABLE_SM90");
    if (off != nullptr && *off != '\0' && std::strcmp(off, "0") != 0) return false;
    const int rows = 64 * sm90::fwd_consumers(static_cast<int>(s.head_dim), s.causal, s.seqlen_q);
    if (sm90::fwd_units(s.seqlen_q, rows, s.heads_q, s.batch) > INT32_MAX) return false;
    return dev.major == 9 && dev.minor == 0 &&
           sm90::tma_strides_ok(p.q, s.batch, s.seqlen_q, s.heads_q) &&
           sm90::tma_strides_ok(p.k, s.batch, s.seqlen_k, s.heads_k) &&
           sm90::tma_strides_ok(p.v, s.batch, s.seqlen_k, s.heads_k) &&
           (p.out == nullptr || sm90::tma_strides_ok(p.out_arg(), s.batch, s.seqlen_q, s.heads_q));
#else
    (void)s, (void)p, (void)dev;
    return false;
#endif
}

// Which kernel a validated forward runs, and how it is cut.
struct FwdPlan {
    enum Kernel { kSm80, kSm90, kDecode } kernel = kSm80;
    int sms = 0;                       // kSm90: the persistent grid
    sm80::DecodeSplit split = {0, 0};  // kDecode: the keys' split over CTAs
    bool overlap_merge = false;        // kDecode: the merge by programmatic launch (sm_90+)
};

// Few query rows per (batch, KV head) run the decode kernel on any GPU: up to one 16-row tile
// (one new token per sequence, GQA groups up to 16) always, up to kDecodeMaxTiles tiles (MQA,
// several tokens per sequence) where its split of the keys puts more CTAs to work than the
// other kernels would (they walk all keys in one CTA). It streams K and V once for all of a
// KV head's query heads in a tile, splitting the keys over as many CTAs as fit on the device
// at once (by shared memory, at most its launch bounds' count per SM). One exception: on sm_90
// with one query head per KV head (no K/V to share) and a CTA for every SM without splitting,
// the sm_90a kernel's TMA reads the cache faster (BENCHMARKS.md, "Decode"). `may_split` is
// false where no workspace is at hand.
FwdPlan plan_forward(const Shape& s, const FwdParams& p, int device, bool may_split) {
    const DeviceInfo& dev = device_info(device);
    const bool sm90 = sm90_applies(s, p, dev);
    const int64_t rows = s.seqlen_q * s.group();
    FwdPlan plan;
    const bool mha_on_sm90 = sm90 && s.group() == 1 && s.batch * s.heads_k >= dev.sms;
    if (rows <= sm80::kDecodeMaxRows && !mha_on_sm90) {
        const int kd = kernel_head_dim(s.head_dim);
        const int64_t tiles = s.batch * s.heads_k * ((rows - 1) / sm80::kDecodeTileRows + 1);
        const int per_sm = std::clamp(dev.smem_per_sm / (sm80::decode_smem_bytes(kd) + 1024), 1,
                                      sm80::kDecodeMinCtasPerSm);  // 1 KB: the SM's reserve a CTA
        const int64_t slots = int64_t{dev.sms} * per_sm;
        plan.split = may_split ? sm80::decode_split(tiles, s.seqlen_k, kd, slots)
                               : sm80::DecodeSplit{1, 0};
        if (rows <= sm80::kDecodeTileRows || plan.split.splits > 1) {
            plan.kernel = FwdPlan::kDecode;
            plan.overlap_merge = dev.major >= 9;
            return plan;
        }
        plan.split = {0, 0};
    }
    if (sm90) {
        plan.kernel = FwdPlan::kSm90;
        plan.sms = dev.sms;
    }
    return plan;
}

// Launches the planned forward kernel (p.splits, p.split_keys set from plan.split).
cudaError_t launch_forward(const Shape& s, const FwdParams& p, const FwdPlan& plan,
                           cudaStream_t st) {
    const int kd = kernel_head_dim(s.head_dim);
#if FLASHATTN_HAVE_SM90
    if (plan.kernel == FwdPlan::kSm90)
        return s.dtype == DType::BF16 ? run_fwd_sm90<__nv_bfloat16>(s.head_dim, p, plan.sms, st)
                                      : run_fwd_sm90<__half>(s.head_dim, p, plan.sms, st);
#endif
    return with_sm80_kernel(s.dtype, kd, [&](auto k) {
        using K = decltype(k);
        return plan.kernel == FwdPlan::kDecode
                   ? sm80::launch_decode<typename K::T, typename K::OutT, K::kD>(
                         p, plan.overlap_merge, st)
                   : sm80::launch_fwd<typename K::T, typename K::OutT, K::kD>(p, st);
    });
}

struct FwdWorkspace {
    F32Inputs f32;
    float* o_partial = nullptr;  // the decode kernel's split rows
    float* lse_partial = nullptr;
};

// Workspace of a forward: the f32 path's converted inputs, the decode splits' partial rows.
size_t fwd_layout(const FwdProblem& p, const sm80::DecodeSplit& split, void* base,
                  FwdWorkspace* w) {
    Carver c(base);
    const Shape& s = p.shape;
    if (s.dtype == DType::F32) w->f32 = carve_f32_inputs(c, s, false);
    if (split.splits > 1) {
        const size_t rows = static_cast<size_t>(split.splits * s.batch * s.heads_k * s.seqlen_q *
                                                s.group());
        const size_t kd = kernel_head_dim(s.head_dim);
        w->o_partial = static_cast<float*>(c.take(rows * kd * sizeof(float)));
        w->lse_partial = static_cast<float*>(c.take(rows * sizeof(float)));
    }
    return c.used();
}

struct BwdWorkspace {
    float* lse = nullptr;    // when the caller gave none
    float* delta = nullptr;
    F32Inputs f32;
};

size_t bwd_layout(const BwdProblem& p, void* base, BwdWorkspace* w) {
    Carver c(base);
    const size_t stats = static_cast<size_t>(p.shape.batch * p.shape.heads_q * p.shape.seqlen_q) * sizeof(float);
    w->delta = static_cast<float*>(c.take(stats));
    if (p.lse == nullptr) w->lse = static_cast<float*>(c.take(stats));
    if (p.shape.dtype == DType::F32) w->f32 = carve_f32_inputs(c, p.shape, true);
    return c.used();
}

// A forward's kernel arguments, short of the workspace's pieces and the decode split.
FwdParams fwd_params(const FwdProblem& pr) {
    FwdParams p{};
    fill_common(pr.shape, &p);
    p.q = arg(pr.q);
    p.k = arg(pr.k);
    p.v = arg(pr.v);
    p.out = pr.out.data;
    p.out_batch = pr.out.s.batch;
    p.out_seq = pr.out.s.seq;
    p.out_head = pr.out.s.head;
    p.lse = pr.lse;
    return p;
}

}  // namespace

bool compiled() { return true; }

int device_count() {
    static const int count = static_cast<int>(
        std::count_if(devices().begin(), devices().end(),
                      [](const DeviceInfo& d) { return d.major >= kMinMajor; }));
    return count;
}

void describe_device(int device, char* name, size_t len) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
        cudaGetLastError();
        std::snprintf(name, len, "unknown device %d", device);
        return;
    }
    std::snprintf(name, len, "%s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor,
                  prop.multiProcessorCount);
}

BackendLimits limits() {
    BackendLimits l{};
    l.dtypes = (1u << FLASH_ATTN_DTYPE_F16) | (1u << FLASH_ATTN_DTYPE_BF16) |
               (1u << FLASH_ATTN_DTYPE_F32);
    l.head_dim_min = 8;
    l.head_dim_max = 256;
    l.head_dim_step = 8;   // 16-byte rows; dims between compiled ones are zero-padded
    l.alignment = 16;      // cp.async moves 16-byte chunks
    l.features = FLASH_ATTN_FEATURE_BACKWARD | FLASH_ATTN_FEATURE_CAUSAL | FLASH_ATTN_FEATURE_GQA |
                 FLASH_ATTN_FEATURE_LSE | FLASH_ATTN_FEATURE_STRIDES |
                 FLASH_ATTN_FEATURE_DETERMINISTIC | FLASH_ATTN_FEATURE_F32_ON_TENSOR_CORES;
    return l;
}

Status locate(const void* ptr, int* device) {
    *device = -1;
    if (device_count() == 0) return FLASH_ATTN_SUCCESS;  // no usable GPU: all memory is host
    cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, ptr) != cudaSuccess) {
        cudaGetLastError();
        return FLASH_ATTN_SUCCESS;
    }
    if (a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged) *device = a.device;
    return FLASH_ATTN_SUCCESS;
}

size_t backward_workspace_size(const BwdProblem& p) {
    BwdWorkspace w;
    return bwd_layout(p, nullptr, &w);
}

size_t forward_workspace_size(const FwdProblem& pr, int device) {
    FwdWorkspace w;
    return fwd_layout(pr, plan_forward(pr.shape, fwd_params(pr), device, true).split, nullptr, &w);
}

Status forward(const FwdProblem& pr, int device) {
    if (Status s = check_launch_limits(pr.shape)) return s;
    DeviceGuard guard(device);
    FA_CUDA_TRY(guard.status(), "cudaSetDevice");
    cudaStream_t stream = static_cast<cudaStream_t>(pr.stream);

    FwdParams p = fwd_params(pr);
    const FwdPlan plan = plan_forward(pr.shape, p, device, true);
    FwdWorkspace w;
    const size_t bytes = fwd_layout(pr, plan.split, nullptr, &w);
    Scratch scratch(pr.workspace, bytes, stream);
    FA_CUDA_TRY(scratch.status(), "cudaMallocAsync (workspace)");
    fwd_layout(pr, plan.split, scratch.get(), &w);
    p.splits = plan.split.splits;
    p.split_keys = plan.split.split_keys;
    p.o_partial = w.o_partial;
    p.lse_partial = w.lse_partial;
    if (pr.shape.dtype == DType::F32) {
        FA_CUDA_TRY(use_f32_inputs(w.f32, pr.shape, &p, nullptr, stream), "f32 input conversion");
    }
    FA_CUDA_TRY(launch_forward(pr.shape, p, plan, stream), "forward kernel launch");
    return FLASH_ATTN_SUCCESS;
}

Status backward(const BwdProblem& pr, int device) {
    if (Status s = check_launch_limits(pr.shape)) return s;
    DeviceGuard guard(device);
    FA_CUDA_TRY(guard.status(), "cudaSetDevice");
    cudaStream_t stream = static_cast<cudaStream_t>(pr.stream);
    const Shape& s = pr.shape;
    const int kd = kernel_head_dim(s.head_dim);

    BwdWorkspace w;
    const size_t bytes = bwd_layout(pr, nullptr, &w);
    Scratch scratch(pr.workspace, bytes, stream);
    FA_CUDA_TRY(scratch.status(), "cudaMallocAsync (workspace)");
    bwd_layout(pr, scratch.get(), &w);

    BwdParams p{};
    fill_common(s, &p);
    p.q = arg(pr.q);
    p.k = arg(pr.k);
    p.v = arg(pr.v);
    p.dout = arg(pr.dout);
    const Dims4 qdims{p.batch, p.seqlen_q, p.heads_q, p.head_dim};
    FA_CUDA_TRY(launch_delta(static_cast<int>(s.dtype), p.dout, arg(pr.out), qdims, w.delta, stream),
                "delta kernel launch");
    if (s.dtype == DType::F32) {
        FA_CUDA_TRY(use_f32_inputs(w.f32, s, &p, &p.dout, stream), "f32 input conversion");
    }
    if (pr.lse == nullptr) {
        // Recompute the LSE with a forward that writes no output.
        FwdParams f{};
        static_cast<AttnParams&>(f) = static_cast<const AttnParams&>(p);
        f.out = nullptr;
        f.lse = w.lse;
        const FwdPlan plan = plan_forward(s, f, device, false);  // no workspace for splits
        FA_CUDA_TRY(launch_forward(s, f, plan, stream), "forward (LSE) kernel launch");
    }
    p.lse = pr.lse != nullptr ? pr.lse : w.lse;
    p.delta = w.delta;
    p.dq = pr.dq.data;
    p.dq_batch = pr.dq.s.batch, p.dq_seq = pr.dq.s.seq, p.dq_head = pr.dq.s.head;
    p.dk = pr.dk.data;
    p.dk_batch = pr.dk.s.batch, p.dk_seq = pr.dk.s.seq, p.dk_head = pr.dk.s.head;
    p.dv = pr.dv.data;
    p.dv_batch = pr.dv.s.batch, p.dv_seq = pr.dv.s.seq, p.dv_head = pr.dv.s.head;
    const cudaError_t e = with_sm80_kernel(s.dtype, kd, [&](auto k) {
        using K = decltype(k);
        return sm80::launch_bwd<typename K::T, typename K::OutT, K::kD>(p, stream);
    });
    FA_CUDA_TRY(e, "backward kernel launch");
    return FLASH_ATTN_SUCCESS;
}

}  // namespace flashattn::cuda
