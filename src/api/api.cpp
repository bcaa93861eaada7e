// The exported C entry points: validate, pick the backend, run it, and turn any exception into
// a status (nothing may escape the C ABI).
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <new>

#include "api/validate.h"

namespace flashattn {

const char* dtype_name(DType t) {
    switch (t) {
        case DType::F16: return "f16";
        case DType::BF16: return "bf16";
        case DType::F32: return "f32";
    }
    return "?";
}

namespace {

template <class F>
Status guarded(F&& body) {
    clear_error();
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return fail(FLASH_ATTN_ERROR_OUT_OF_MEMORY, "host allocation failed");
    } catch (...) {
        return fail(FLASH_ATTN_ERROR_INTERNAL, "unexpected exception inside flashattn");
    }
}

// A caller's workspace must hold `needed` bytes; with none given the backend allocates its own,
// so callers size only a given one (the forward's size comes from planning its kernels).
Status check_workspace(size_t given_size, size_t needed) {
    if (given_size < needed) {
        return fail(FLASH_ATTN_ERROR_WORKSPACE_TOO_SMALL,
                    "workspace_size %zu too small: this call needs %zu bytes", given_size,
                    needed);
    }
    return FLASH_ATTN_SUCCESS;
}

size_t forward_workspace(const FwdProblem& p, const Target& t) {
    return t.backend == FLASH_ATTN_BACKEND_CUDA ? cuda::forward_workspace_size(p, t.device)
                                                : cpu::forward_workspace_size(p);
}

size_t backward_workspace(const BwdProblem& p, const Target& t) {
    return t.backend == FLASH_ATTN_BACKEND_CUDA ? cuda::backward_workspace_size(p)
                                                : cpu::backward_workspace_size(p);
}

// The minimal API's params become a full forward/backward over packed f16 tensors.
Status params_to_shape(const FlashAttnParams* p, int64_t v[4]) {
    if (p == nullptr) return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "params is NULL");
    const size_t in[4] = {p->batch_size, p->seq_len, p->num_heads, p->head_dim};
    const char* names[4] = {"batch_size", "seq_len", "num_heads", "head_dim"};
    for (int i = 0; i < 4; ++i) {
        if (in[i] > static_cast<size_t>(INT32_MAX)) {
            return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "params->%s %zu invalid: 1..%d",
                        names[i], in[i], INT32_MAX);
        }
        v[i] = static_cast<int64_t>(in[i]);
    }
    return FLASH_ATTN_SUCCESS;
}

}  // namespace
}  // namespace flashattn

using namespace flashattn;

extern "C" int flash_attn_fwd(const FlashAttnForwardArgs* args) {
    return guarded([&]() -> Status {
        FwdProblem p;
        Target t;
        Status st = make_forward_problem(args, &p, &t);
        if (st) return st;
        if (p.workspace != nullptr &&
            (st = check_workspace(p.workspace_size, forward_workspace(p, t))))
            return st;
        return t.backend == FLASH_ATTN_BACKEND_CUDA ? cuda::forward(p, t.device) : cpu::forward(p);
    });
}

extern "C" int flash_attn_bwd(const FlashAttnBackwardArgs* args) {
    return guarded([&]() -> Status {
        BwdProblem p;
        Target t;
        Status st = make_backward_problem(args, &p, &t);
        if (st) return st;
        if (p.workspace != nullptr &&
            (st = check_workspace(p.workspace_size, backward_workspace(p, t))))
            return st;
        return t.backend == FLASH_ATTN_BACKEND_CUDA ? cuda::backward(p, t.device)
                                                    : cpu::backward(p);
    });
}

extern "C" int flash_attn_forward_workspace_size(const FlashAttnForwardArgs* args, size_t* bytes) {
    return guarded([&]() -> Status {
        if (bytes == nullptr) return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "bytes is NULL");
        FwdProblem p;
        Target t;
        Status st = make_forward_problem(args, &p, &t);
        if (st) return st;
        *bytes = forward_workspace(p, t);
        return FLASH_ATTN_SUCCESS;
    });
}

extern "C" int flash_attn_backward_workspace_size(const FlashAttnBackwardArgs* args,
                                                  size_t* bytes) {
    return guarded([&]() -> Status {
        if (bytes == nullptr) return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "bytes is NULL");
        BwdProblem p;
        Target t;
        Status st = make_backward_problem(args, &p, &t);
        if (st) return st;
        *bytes = backward_workspace(p, t);
        return FLASH_ATTN_SUCCESS;
    });
}

extern "C" int flash_attn_forward(const void* q, const void* k, const void* v, void* out,
                                  const FlashAttnParams* params) {
    int64_t s[4];
    clear_error();
    if (Status st = params_to_shape(params, s)) return st;
    FlashAttnForwardArgs a;
    flash_attn_forward_args_init(&a);
    a.dtype = FLASH_ATTN_DTYPE_F16;
    a.causal = params->is_causal;
    a.batch = s[0];
    a.seqlen_q = a.seqlen_k = s[1];
    a.num_heads_q = a.num_heads_k = s[2];
    a.head_dim = s[3];
    a.softmax_scale = params->softmax_scale;
    a.q = q;
    a.k = k;
    a.v = v;
    a.out = out;
    return flash_attn_fwd(&a);
}

extern "C" int flash_attn_backward(const void* dout, const void* q, const void* k, const void* v,
                                   const void* out, void* dq, void* dk, void* dv,
                                   const FlashAttnParams* params) {
    int64_t s[4];
    clear_error();
    if (Status st = params_to_shape(params, s)) return st;
    FlashAttnBackwardArgs a;
    flash_attn_backward_args_init(&a);
    a.dtype = FLASH_ATTN_DTYPE_F16;
    a.causal = params->is_causal;
    a.batch = s[0];
    a.seqlen_q = a.seqlen_k = s[1];
    a.num_heads_q = a.num_heads_k = s[2];
    a.head_dim = s[3];
    a.softmax_scale = params->softmax_scale;
    a.dout = dout;
    a.q = q;
    a.k = k;
    a.v = v;
    a.out = out;
    a.dq = dq;
    a.dk = dk;
    a.dv = dv;
    return flash_attn_bwd(&a);
}

extern "C" const char* flash_attn_version_string(void) {
#define FA_STR2(x) #x
#define FA_STR(x) FA_STR2(x)
    return FA_STR(FLASHATTN_VERSION_MAJOR) "." FA_STR(FLASHATTN_VERSION_MINOR) "." FA_STR(
        FLASHATTN_VERSION_PATCH);
#undef FA_STR
#undef FA_STR2
}

extern "C" int flash_attn_cpu_set_num_threads(int n) {
    clear_error();
    if (n < 0) {
        return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT,
                    "num_threads %d invalid: 0 (all cores) or more", n);
    }
    return guarded([&]() -> Status {
        cpu::set_num_threads(n);
        return FLASH_ATTN_SUCCESS;
    });
}

extern "C" int flash_attn_get_info(FlashAttnInfo* info) {
    return guarded([&]() -> Status {
        if (info == nullptr) return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "info is NULL");
        if (info->struct_size < sizeof(FlashAttnInfo)) {
            return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT,
                        "info->struct_size %zu too small: set it to sizeof(FlashAttnInfo) = %zu",
                        info->struct_size, sizeof(FlashAttnInfo));
        }
        const size_t size = info->struct_size;
        std::memset(info, 0, sizeof(FlashAttnInfo));
        info->struct_size = size;
        info->version_major = FLASHATTN_VERSION_MAJOR;
        info->version_minor = FLASHATTN_VERSION_MINOR;
        info->version_patch = FLASHATTN_VERSION_PATCH;
        auto fill = [](FlashAttnBackendInfo& b, const BackendLimits& l) {
            b.dtypes = l.dtypes;
            b.head_dim_min = l.head_dim_min;
            b.head_dim_max = l.head_dim_max;
            b.head_dim_step = l.head_dim_step;
            b.features = l.features;
            b.pointer_alignment = l.alignment;
        };
        FlashAttnBackendInfo& c = info->backends[FLASH_ATTN_BACKEND_CPU];
        c.compiled = c.usable = 1;
        c.device_count = 1;
        fill(c, cpu::limits());
        std::snprintf(c.name, sizeof c.name, "cpu");
        std::snprintf(c.detail, sizeof c.detail, "%d threads", cpu::num_threads());

        FlashAttnBackendInfo& g = info->backends[FLASH_ATTN_BACKEND_CUDA];
        std::snprintf(g.name, sizeof g.name, "cuda");
        g.compiled = cuda::compiled();
        if (g.compiled) {
            g.device_count = cuda::device_count();
            g.usable = g.device_count > 0;
            fill(g, cuda::limits());
            if (g.usable) cuda::describe_device(0, g.detail, sizeof g.detail);
        }
        FlashAttnBackendInfo& h = info->backends[FLASH_ATTN_BACKEND_HIP];
        std::snprintf(h.name, sizeof h.name, "hip");
        return FLASH_ATTN_SUCCESS;
    });
}
