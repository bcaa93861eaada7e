// flashattn-bench on a CUDA GPU. Flash runs through the C ABI on device memory; standard
// attention is cuBLAS (scores = Q K^T and out = P V as batched GEMMs, the best matrix multiply
// the platform has) around a row softmax kernel, with the score and probability matrices
// materialized in the input dtype, as a framework does. cuBLAS is loaded at run time, so
// neither the library nor CI depends on it; without it the standard column is skipped.
// Times are CUDA-event medians; extra memory is what each method allocates beyond the inputs
// and the output (flash: its workspace; standard: the two score matrices).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <library_types.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "bench_runner.h"

namespace flashattn::bench {
namespace {

// The few cuBLAS entry points used, declared here (values from cublas_api.h) so building needs
// no cuBLAS headers.
using cublasHandle_t = void*;
using GemmBatchedEx = int (*)(cublasHandle_t, int, int, int, int, int, const void*,
                              const void* const*, cudaDataType, int, const void* const*,
                              cudaDataType, int, const void*, void* const*, cudaDataType, int, int,
                              int, int);
constexpr int kOpN = 0, kOpT = 1;
constexpr int kCompute32F = 68, kCompute32FFastTF32 = 77, kGemmDefault = -1;

struct Cublas {
    void* lib = nullptr;
    cublasHandle_t handle = nullptr;
    GemmBatchedEx gemm = nullptr;
    bool load(cudaStream_t stream, std::string* why) {
        for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so",
                                 "/usr/local/cuda/lib64/libcublas.so"}) {
            if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
        }
        if (lib == nullptr) {
            *why = "cuBLAS not found (libcublas.so): standard attention skipped";
            return false;
        }
        auto create = reinterpret_cast<int (*)(cublasHandle_t*)>(dlsym(lib, "cublasCreate_v2"));
        auto set_stream = reinterpret_cast<int (*)(cublasHandle_t, cudaStream_t)>(
            dlsym(lib, "cublasSetStream_v2"));
        gemm = reinterpret_cast<GemmBatchedEx>(dlsym(lib, "cublasGemmBatchedEx"));
        if (!create || !set_stream || !gemm || create(&handle) != 0 || set_stream(handle, stream) != 0) {
            *why = "cuBLAS could not be initialized: standard attention skipped";
            return false;
        }
        return true;
    }
};

#define BENCH_CUDA(call)                                                       \
    do {                                                                       \
        cudaError_t e_ = (call);                                               \
        if (e_ != cudaSuccess) {                                               \
            *error = std::string(#call) + ": " + cudaGetErrorString(e_);       \
            return false;                                                      \
        }                                                                      \
    } while (0)

template <typename T>
__device__ float to_f32(T x) { return static_cast<float>(x); }
template <>
__device__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T>
__device__ T from_f32(float x) { return static_cast<T>(x); }
template <>
__device__ __nv_bfloat16 from_f32(float x) { return __float2bfloat16(x); }

// One block per score row: P = softmax(scale * S) in f32, bottom-right causal, written as T.
template <typename T>
__global__ void softmax_rows(const T* s, T* p, int nq, int nk, float scale, int causal) {
    const int64_t row = blockIdx.x;
    const int i = row % nq;
    const int visible = causal ? min(nk, max(0, i + nk - nq + 1)) : nk;
    const T* x = s + row * nk;
    T* y = p + row * nk;
    __shared__ float red[32];
    auto block_reduce = [&](float v, bool is_max) {
        for (int o = 16; o > 0; o /= 2) {
            const float w = __shfl_xor_sync(0xffffffffu, v, o);
            v = is_max ? fmaxf(v, w) : v + w;
        }
        if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = v;
        __syncthreads();
        v = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : (is_max ? -INFINITY : 0.0f);
        for (int o = 16; o > 0; o /= 2) {
            const float w = __shfl_xor_sync(0xffffffffu, v, o);
            v = is_max ? fmaxf(v, w) : v + w;
        }
        __syncthreads();
        return v;
    };
    float m = -INFINITY;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) m = fmaxf(m, to_f32(x[j]) * scale);
    m = block_reduce(m, true);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < visible; j += blockDim.x) sum += __expf(to_f32(x[j]) * scale - m);
    sum = block_reduce(sum, false);
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int j = threadIdx.x; j < nk; j += blockDim.x)
        y[j] = from_f32<T>(j < visible ? __expf(to_f32(x[j]) * scale - m) * inv : 0.0f);
}

class CudaRunner : public Runner {
public:
    ~CudaRunner() override {
        release();
        if (stream_) cudaStreamDestroy(stream_);
    }

    bool init(std::string* error) {
        BENCH_CUDA(cudaStreamCreate(&stream_));
        BENCH_CUDA(cudaEventCreate(&start_));
        BENCH_CUDA(cudaEventCreate(&stop_));
        cudaDeviceProp prop;
        BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
        name_ = std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
                std::to_string(prop.minor) + ")";
        have_cublas_ = cublas_.load(stream_, &cublas_why_);
        return true;
    }

    std::string device_name() const override { return name_; }
    std::string default_dtype() const override { return "f16"; }

    bool prepare(const Config& c, std::string* error) override {
        release();
        c_ = c;
        const size_t es = c.elem_size();
        nq_ = size_t(c.batch * c.seqlen_q * c.heads * c.head_dim);
        nk_ = size_t(c.batch * c.seqlen_k * c.heads_k * c.head_dim);
        std::mt19937_64 rng(std::random_device{}());
        std::normal_distribution<float> n(0.f, 1.f);
        std::vector<uint8_t> host;
        for (auto [ptr, count] : {std::pair{&q_, nq_}, {&k_, nk_}, {&v_, nk_}, {&dout_, nq_}}) {
            host.resize(count * es);
            for (size_t i = 0; i < count; ++i) c_.store(host.data(), i, n(rng));
            BENCH_CUDA(cudaMalloc(ptr, count * es));
            BENCH_CUDA(cudaMemcpy(*ptr, host.data(), count * es, cudaMemcpyHostToDevice));
        }
        for (auto [ptr, count] : {std::pair{&out_, nq_}, {&std_out_, nq_}, {&dq_, nq_}, {&dk_, nk_},
                                  {&dv_, nk_}}) {
            BENCH_CUDA(cudaMalloc(ptr, count * es));
        }
        BENCH_CUDA(cudaMalloc(&lse_, sizeof(float) * c.batch * c.heads * c.seqlen_q));
        return true;
    }

    bool flash_forward(Measurement* m, std::string* error) override {
        FlashAttnForwardArgs a;
        flash_attn_forward_args_init(&a);
        c_.fill(a);
        a.stream = stream_;
        a.q = q_, a.k = k_, a.v = v_, a.out = out_, a.lse = static_cast<float*>(lse_);
        size_t bytes = 0;
        if (flash_attn_forward_workspace_size(&a, &bytes) != FLASH_ATTN_SUCCESS) {
            *error = flash_attn_last_error();
            return false;
        }
        void* ws = nullptr;
        if (bytes) BENCH_CUDA(cudaMalloc(&ws, bytes));
        a.workspace = ws, a.workspace_size = bytes;
        const bool ok = timed(m, error, [&] { return flash_attn_fwd(&a) == FLASH_ATTN_SUCCESS; });
        cudaFree(ws);
        m->peak_bytes = double(bytes);
        return ok;
    }

    bool flash_backward(Measurement* m, std::string* error) override {
        FlashAttnBackwardArgs a;
        flash_attn_backward_args_init(&a);
        c_.fill(a);
        a.stream = stream_;
        a.dout = dout_, a.q = q_, a.k = k_, a.v = v_, a.out = out_;
        a.lse = static_cast<const float*>(lse_);
        a.dq = dq_, a.dk = dk_, a.dv = dv_;
        size_t bytes = 0;
        if (flash_attn_backward_workspace_size(&a, &bytes) != FLASH_ATTN_SUCCESS) {
            *error = flash_attn_last_error();
            return false;
        }
        void* ws = nullptr;
        if (bytes) BENCH_CUDA(cudaMalloc(&ws, bytes));
        a.workspace = ws, a.workspace_size = bytes;
        const bool ok = timed(m, error, [&] { return flash_attn_bwd(&a) == FLASH_ATTN_SUCCESS; });
        cudaFree(ws);
        m->peak_bytes = double(bytes);
        return ok;
    }

    bool standard_available(std::string* why) const override {
        *why = cublas_why_;
        return have_cublas_;
    }

    bool standard_forward(Measurement* m, double* max_diff, std::string* error) override {
        const int64_t B = c_.batch, H = c_.heads, HK = c_.heads_k, NQ = c_.seqlen_q,
                      NK = c_.seqlen_k, D = c_.head_dim;
        const size_t es = c_.elem_size();
        const size_t scores = size_t(B * H * NQ * NK);
        void *s = nullptr, *p = nullptr;
        BENCH_CUDA(cudaMalloc(&s, scores * es));
        if (cudaMalloc(&p, scores * es) != cudaSuccess) {
            cudaFree(s);
            *error = "standard attention: cannot allocate the probability matrix";
            return false;
        }
        // Pointer arrays per (batch, query head) for the batched GEMMs.
        std::vector<const void*> hq, hk, hv, hs, hp;
        std::vector<void*> hsw, how;
        const char* base_q = static_cast<const char*>(q_);
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < H; ++h) {
                const int64_t hkv = h / (H / HK);
                hq.push_back(base_q + ((b * NQ * H + h) * D) * es);
                hk.push_back(static_cast<const char*>(k_) + ((b * NK * HK + hkv) * D) * es);
                hv.push_back(static_cast<const char*>(v_) + ((b * NK * HK + hkv) * D) * es);
                hsw.push_back(static_cast<char*>(s) + size_t((b * H + h) * NQ * NK) * es);
                hp.push_back(static_cast<char*>(p) + size_t((b * H + h) * NQ * NK) * es);
                how.push_back(static_cast<char*>(std_out_) + ((b * NQ * H + h) * D) * es);
            }
        const size_t nb = hq.size();
        void** dptr = nullptr;
        BENCH_CUDA(cudaMalloc(&dptr, 6 * nb * sizeof(void*)));
        for (auto [i, vec] : {std::pair<int, const void* const*>{0, hq.data()}, {1, hk.data()},
                              {2, hv.data()}, {3, (const void* const*)hsw.data()},
                              {4, hp.data()}, {5, (const void* const*)how.data()}})
            BENCH_CUDA(cudaMemcpy(dptr + i * nb, vec, nb * sizeof(void*), cudaMemcpyHostToDevice));

        const cudaDataType dt = c_.dtype == FLASH_ATTN_DTYPE_F16    ? CUDA_R_16F
                                : c_.dtype == FLASH_ATTN_DTYPE_BF16 ? CUDA_R_16BF
                                                                    : CUDA_R_32F;
        const int compute = c_.dtype == FLASH_ATTN_DTYPE_F32 ? kCompute32FFastTF32 : kCompute32F;
        const float one = 1.0f, zero = 0.0f;
        const int nbi = static_cast<int>(nb);
        auto run = [&] {
            // Row-major S[NQ x NK] = Q K^T is column-major S^T = K^T' Q^T.
            int st = cublas_.gemm(cublas_.handle, kOpT, kOpN, int(NK), int(NQ), int(D), &one,
                                  (const void* const*)(dptr + nb), dt, int(HK * D),
                                  (const void* const*)dptr, dt, int(H * D), &zero, dptr + 3 * nb,
                                  dt, int(NK), nbi, compute, kGemmDefault);
            if (st != 0) return false;
            launch_softmax(s, p, NQ, NK, B * H * NQ);
            // Row-major O[NQ x D] = P V is column-major O^T = V^T P^T.
            st = cublas_.gemm(cublas_.handle, kOpN, kOpN, int(D), int(NQ), int(NK), &one,
                              (const void* const*)(dptr + 2 * nb), dt, int(HK * D),
                              (const void* const*)(dptr + 4 * nb), dt, int(NK), &zero,
                              dptr + 5 * nb, dt, int(H * D), nbi, compute, kGemmDefault);
            return st == 0 && cudaGetLastError() == cudaSuccess;
        };
        const bool ok = timed(m, error, run);
        cudaFree(dptr);
        cudaFree(s);
        cudaFree(p);
        if (!ok) {
            if (error->empty()) *error = "standard attention: a cuBLAS call failed";
            return false;
        }
        m->peak_bytes = double(2 * scores * es);
        std::vector<uint8_t> a(nq_ * es), b(nq_ * es);
        BENCH_CUDA(cudaMemcpy(a.data(), out_, a.size(), cudaMemcpyDeviceToHost));
        BENCH_CUDA(cudaMemcpy(b.data(), std_out_, b.size(), cudaMemcpyDeviceToHost));
        *max_diff = 0;
        for (size_t i = 0; i < nq_; ++i)
            *max_diff = std::max(*max_diff, double(std::fabs(c_.load(a.data(), i) - c_.load(b.data(), i))));
        return true;
    }

private:
    void launch_softmax(void* s, void* p, int64_t nq, int64_t nk, int64_t rows) {
        const unsigned grid = static_cast<unsigned>(rows);
        if (c_.dtype == FLASH_ATTN_DTYPE_F16)
            softmax_rows<__half><<<grid, 256, 0, stream_>>>(static_cast<const __half*>(s),
                                                            static_cast<__half*>(p), int(nq),
                                                            int(nk), c_.scale(), c_.causal);
        else if (c_.dtype == FLASH_ATTN_DTYPE_BF16)
            softmax_rows<__nv_bfloat16><<<grid, 256, 0, stream_>>>(
                static_cast<const __nv_bfloat16*>(s), static_cast<__nv_bfloat16*>(p), int(nq),
                int(nk), c_.scale(), c_.causal);
        else
            softmax_rows<float><<<grid, 256, 0, stream_>>>(static_cast<const float*>(s),
                                                           static_cast<float*>(p), int(nq),
                                                           int(nk), c_.scale(), c_.causal);
    }
    // Median of per-call event timings after warm-up.
    template <class F>
    bool timed(Measurement* m, std::string* error, F&& fn) {
        for (int i = 0; i < c_.warmup; ++i)
            if (!fn()) return fail_with(error);
        std::vector<double> t;
        for (int i = 0; i < std::max(1, c_.repeats); ++i) {
            BENCH_CUDA(cudaEventRecord(start_, stream_));
            if (!fn()) return fail_with(error);
            BENCH_CUDA(cudaEventRecord(stop_, stream_));
            BENCH_CUDA(cudaEventSynchronize(stop_));
            float ms = 0;
            BENCH_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
            t.push_back(ms);
        }
        std::sort(t.begin(), t.end());
        m->ms = t[t.size() / 2];
        return true;
    }
    static bool fail_with(std::string* error) {
        if (error->empty()) *error = flash_attn_last_error();
        return false;
    }
    void release() {
        for (void** p : {&q_, &k_, &v_, &dout_, &out_, &std_out_, &dq_, &dk_, &dv_, &lse_}) {
            if (*p) cudaFree(*p);
            *p = nullptr;
        }
    }

    std::string name_, cublas_why_;
    cudaStream_t stream_ = nullptr;
    cudaEvent_t start_ = nullptr, stop_ = nullptr;
    Cublas cublas_;
    bool have_cublas_ = false;
    Config c_;
    size_t nq_ = 0, nk_ = 0;
    void *q_ = nullptr, *k_ = nullptr, *v_ = nullptr, *dout_ = nullptr, *out_ = nullptr,
         *std_out_ = nullptr, *dq_ = nullptr, *dk_ = nullptr, *dv_ = nullptr, *lse_ = nullptr;
};

}  // namespace

Runner* make_cuda_runner(std::string* error) {
    FlashAttnInfo info;
    info.struct_size = sizeof(info);
    if (flash_attn_get_info(&info) != FLASH_ATTN_SUCCESS ||
        !info.backends[FLASH_ATTN_BACKEND_CUDA].usable) {
        *error = "no usable CUDA device";
        return nullptr;
    }
    auto* r = new CudaRunner();
    if (!r->init(error)) {
        delete r;
        return nullptr;
    }
    return r;
}

}  // namespace flashattn::bench
