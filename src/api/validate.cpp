#include "api/validate.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace flashattn {
namespace {

// Copies a caller's versioned struct into ours. A smaller (older) struct leaves the newer
// fields zero, which is each field's default; a larger (newer) one is accepted only when the
// fields this library does not know are all zero.
Status copy_versioned(const void* src, size_t caller_size, void* dst, size_t our_size,
                      const char* type) {
    if (caller_size < our_size) {
        return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT,
                    "%s.struct_size %zu too small: set it to sizeof(%s) = %zu "
                    "(use the _init helper)",
                    type, caller_size, type, our_size);
    }
    const unsigned char* bytes = static_cast<const unsigned char*>(src);
    for (size_t i = our_size; i < caller_size; ++i) {
        if (bytes[i] != 0) {
            return fail(FLASH_ATTN_ERROR_UNSUPPORTED,
                        "%s.struct_size %zu: fields past byte %zu are set, but this library "
                        "(%s) knows only %zu bytes",
                        type, caller_size, our_size, flash_attn_version_string(), our_size);
        }
    }
    std::memcpy(dst, src, our_size);
    return FLASH_ATTN_SUCCESS;
}

Status check_shape(int32_t dtype, int64_t batch, int64_t seqlen_q, int64_t seqlen_k,
                   int64_t heads_q, int64_t heads_k, int64_t head_dim, float scale,
                   int32_t causal, Shape* s) {
    if (dtype != FLASH_ATTN_DTYPE_F16 && dtype != FLASH_ATTN_DTYPE_BF16 &&
        dtype != FLASH_ATTN_DTYPE_F32) {
        return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT,
                    "dtype %d invalid: 0 (f16), 1 (bf16) or 2 (f32)", dtype);
    }
    const struct { const char* name; int64_t v; } sizes[] = {
        {"batch", batch},         {"seqlen_q", seqlen_q},       {"seqlen_k", seqlen_k},
        {"num_heads_q", heads_q}, {"num_heads_k", heads_k},     {"head_dim", head_dim}};
    for (const auto& sz : sizes) {
        // 2^31 bounds every single size so the backends' index arithmetic stays simple.
        if (sz.v < 1 || sz.v > INT32_MAX) {
            return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "%s %" PRId64 " invalid: 1..%d",
                        sz.name, sz.v, INT32_MAX);
        }
    }
    if (heads_q % heads_k != 0) {
        return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT,
                    "num_heads_q %" PRId64 " is not a multiple of num_heads_k %" PRId64,
                    heads_q, heads_k);
    }
    if (!std::isfinite(scale)) {
        return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "softmax_scale %g invalid: must be finite",
                    static_cast<double>(scale));
    }
    s->dtype = static_cast<DType>(dtype);
    s->batch = batch;
    s->seqlen_q = seqlen_q;
    s->seqlen_k = seqlen_k;
    s->heads_q = heads_q;
    s->heads_k = heads_k;
    s->head_dim = head_dim;
    s->softmax_scale = scale;
    s->causal = causal != 0;
    return FLASH_ATTN_SUCCESS;
}

// Checks one tensor [batch, seq, heads, head_dim] and resolves packed strides.
template <class Pointer>
Status check_tensor(const char* name, Pointer ptr, const FlashAttnStrides& st, int64_t batch,
                    int64_t seq, int64_t heads, int64_t head_dim, DType dt,
                    TensorView<Pointer>* t) {
    if (ptr == nullptr) {
        return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "%s is NULL", name);
    }
    const size_t es = dtype_size(dt);
    if (reinterpret_cast<uintptr_t>(ptr) % es != 0) {
        return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT,
                    "%s %p is not aligned to its element size (%zu bytes)", name, ptr, es);
    }
    t->data = ptr;
    if (st.batch == 0 && st.seq == 0 && st.head == 0 && st.dim == 0) {
        int64_t seq_stride = 0, batch_stride = 0;
        if (__builtin_mul_overflow(heads, head_dim, &seq_stride) ||
            __builtin_mul_overflow(seq, seq_stride, &batch_stride)) {
            return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "%s: size overflows 64 bits", name);
        }
        t->s = Strides{batch_stride, seq_stride, head_dim};
    } else {
        if (st.dim != 0 && st.dim != 1) {
            return fail(FLASH_ATTN_ERROR_UNSUPPORTED,
                        "%s_strides.dim %" PRId64
                        " unsupported: the last dimension must be contiguous (1)",
                        name, st.dim);
        }
        if (st.batch < 0 || st.seq < 0 || st.head < 0) {
            return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT,
                        "%s_strides (%" PRId64 ", %" PRId64 ", %" PRId64
                        ") invalid: strides must be >= 0",
                        name, st.batch, st.seq, st.head);
        }
        t->s = Strides{st.batch, st.seq, st.head};
    }
    // The furthest element addressed, in bytes, must fit in 63 bits.
    int64_t a = 0, b = 0, c = 0, end = 0, bytes = 0;
    if (__builtin_mul_overflow(batch - 1, t->s.batch, &a) ||
        __builtin_mul_overflow(seq - 1, t->s.seq, &b) ||
        __builtin_mul_overflow(heads - 1, t->s.head, &c) || __builtin_add_overflow(a, b, &end) ||
        __builtin_add_overflow(end, c, &end) || __builtin_add_overflow(end, head_dim, &end) ||
        __builtin_mul_overflow(end, static_cast<int64_t>(es), &bytes)) {
        return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT,
                    "%s: sizes and strides address more than 2^63 bytes", name);
    }
    return FLASH_ATTN_SUCCESS;
}

// The LSE buffer [batch, heads_q, seqlen_q] float32 must be addressable too.
Status check_lse(const char* name, const void* lse, const Shape& s) {
    if (lse == nullptr) return FLASH_ATTN_SUCCESS;
    if (reinterpret_cast<uintptr_t>(lse) % sizeof(float) != 0) {
        return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "%s %p is not 4-byte aligned", name, lse);
    }
    int64_t n = 0;
    if (__builtin_mul_overflow(s.batch, s.heads_q, &n) ||
        __builtin_mul_overflow(n, s.seqlen_q, &n) || __builtin_mul_overflow(n, int64_t{4}, &n)) {
        return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "%s: size overflows 64 bits", name);
    }
    return FLASH_ATTN_SUCCESS;
}

struct NamedPtr {
    const char* name;
    const void* ptr;
};

// Decides the backend from where the pointers live, then applies that backend's limits.
// tensors[i] are the pointers and strides of ptrs[i], for i < ntensors.
Status choose_target(const NamedPtr* ptrs, int n, const Shape& s, const Strides* const* tensors,
                     int ntensors, Target* target) {
    int first_device = 0;
    const char* first_name = nullptr;
    for (int i = 0; i < n; ++i) {
        if (ptrs[i].ptr == nullptr) continue;
        int dev = -1;
        Status st = cuda::locate(ptrs[i].ptr, &dev);
        if (st != FLASH_ATTN_SUCCESS) return st;
        if (first_name == nullptr) {
            first_name = ptrs[i].name;
            first_device = dev;
        } else if (dev != first_device) {
            auto where = [](int d, char* buf, size_t len) {
                if (d < 0) std::snprintf(buf, len, "host memory");
                else std::snprintf(buf, len, "device %d", d);
                return buf;
            };
            char a[32], b[32];
            return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT,
                        "pointers mix memory locations: %s is in %s but %s is in %s; all tensors "
                        "must live in host memory or all on one device",
                        first_name, where(first_device, a, sizeof a), ptrs[i].name,
                        where(dev, b, sizeof b));
        }
    }
    target->backend = first_device < 0 ? FLASH_ATTN_BACKEND_CPU : FLASH_ATTN_BACKEND_CUDA;
    target->device = first_device;

    const bool gpu = target->backend == FLASH_ATTN_BACKEND_CUDA;
    const char* bname = gpu ? "CUDA" : "CPU";
    const BackendLimits lim = gpu ? cuda::limits() : cpu::limits();
    if (!(lim.dtypes & (1u << static_cast<int>(s.dtype)))) {
        return fail(FLASH_ATTN_ERROR_UNSUPPORTED, "dtype %s unsupported by the %s backend",
                    dtype_name(s.dtype), bname);
    }
    if (s.head_dim < lim.head_dim_min || s.head_dim > lim.head_dim_max ||
        (s.head_dim - lim.head_dim_min) % lim.head_dim_step != 0) {
        if (lim.head_dim_step == 1) {
            return fail(FLASH_ATTN_ERROR_UNSUPPORTED,
                        "head_dim %" PRId64 " unsupported by the %s backend: %d..%d", s.head_dim,
                        bname, lim.head_dim_min, lim.head_dim_max);
        }
        return fail(FLASH_ATTN_ERROR_UNSUPPORTED,
                    "head_dim %" PRId64 " unsupported by the %s backend: %d..%d in steps of %d",
                    s.head_dim, bname, lim.head_dim_min, lim.head_dim_max, lim.head_dim_step);
    }
    const int64_t align = lim.alignment;
    if (align > 0) {
        const int64_t es = static_cast<int64_t>(dtype_size(s.dtype));
        for (int i = 0; i < ntensors; ++i) {
            const Strides& t = *tensors[i];
            const char* name = ptrs[i].name;
            if (reinterpret_cast<uintptr_t>(ptrs[i].ptr) % align != 0) {
                return fail(FLASH_ATTN_ERROR_UNSUPPORTED,
                            "%s %p unsupported by the %s backend: pointers must be %" PRId64
                            "-byte aligned",
                            name, ptrs[i].ptr, bname, align);
            }
            if ((t.batch * es) % align || (t.seq * es) % align || (t.head * es) % align) {
                return fail(FLASH_ATTN_ERROR_UNSUPPORTED,
                            "%s strides unsupported by the %s backend: batch, seq and head "
                            "strides must be multiples of %" PRId64 " bytes",
                            name, bname, align);
            }
        }
    }
    return FLASH_ATTN_SUCCESS;
}

}  // namespace

Status make_forward_problem(const FlashAttnForwardArgs* user, FwdProblem* p, Target* target) {
    if (user == nullptr) return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "args is NULL");
    FlashAttnForwardArgs a;
    Status st = copy_versioned(user, user->struct_size, &a, sizeof(a), "FlashAttnForwardArgs");
    if (st) return st;
    Shape& s = p->shape;
    if ((st = check_shape(a.dtype, a.batch, a.seqlen_q, a.seqlen_k, a.num_heads_q, a.num_heads_k,
                          a.head_dim, a.softmax_scale, a.causal, &s)))
        return st;
    if ((st = check_tensor("q", a.q, a.q_strides, s.batch, s.seqlen_q, s.heads_q, s.head_dim,
                           s.dtype, &p->q)) ||
        (st = check_tensor("k", a.k, a.k_strides, s.batch, s.seqlen_k, s.heads_k, s.head_dim,
                           s.dtype, &p->k)) ||
        (st = check_tensor("v", a.v, a.v_strides, s.batch, s.seqlen_k, s.heads_k, s.head_dim,
                           s.dtype, &p->v)) ||
        (st = check_tensor("out", a.out, a.out_strides, s.batch, s.seqlen_q, s.heads_q,
                           s.head_dim, s.dtype, &p->out)) ||
        (st = check_lse("lse", a.lse, s)))
        return st;
    p->lse = a.lse;
    p->workspace = a.workspace;
    p->workspace_size = a.workspace_size;
    p->stream = a.stream;
    const NamedPtr ptrs[] = {{"q", a.q}, {"k", a.k}, {"v", a.v}, {"out", a.out},
                             {"lse", a.lse}, {"workspace", a.workspace}};
    const Strides* tensors[] = {&p->q.s, &p->k.s, &p->v.s, &p->out.s};
    return choose_target(ptrs, 6, s, tensors, 4, target);
}

Status make_backward_problem(const FlashAttnBackwardArgs* user, BwdProblem* p, Target* target) {
    if (user == nullptr) return fail(FLASH_ATTN_ERROR_INVALID_ARGUMENT, "args is NULL");
    FlashAttnBackwardArgs a;
    Status st = copy_versioned(user, user->struct_size, &a, sizeof(a), "FlashAttnBackwardArgs");
    if (st) return st;
    Shape& s = p->shape;
    if ((st = check_shape(a.dtype, a.batch, a.seqlen_q, a.seqlen_k, a.num_heads_q, a.num_heads_k,
                          a.head_dim, a.softmax_scale, a.causal, &s)))
        return st;
    const int64_t B = s.batch, SQ = s.seqlen_q, SK = s.seqlen_k, HQ = s.heads_q, HK = s.heads_k,
                  D = s.head_dim;
    if ((st = check_tensor("dout", a.dout, a.dout_strides, B, SQ, HQ, D, s.dtype, &p->dout)) ||
        (st = check_tensor("q", a.q, a.q_strides, B, SQ, HQ, D, s.dtype, &p->q)) ||
        (st = check_tensor("k", a.k, a.k_strides, B, SK, HK, D, s.dtype, &p->k)) ||
        (st = check_tensor("v", a.v, a.v_strides, B, SK, HK, D, s.dtype, &p->v)) ||
        (st = check_tensor("out", a.out, a.out_strides, B, SQ, HQ, D, s.dtype, &p->out)) ||
        (st = check_tensor("dq", a.dq, a.dq_strides, B, SQ, HQ, D, s.dtype, &p->dq)) ||
        (st = check_tensor("dk", a.dk, a.dk_strides, B, SK, HK, D, s.dtype, &p->dk)) ||
        (st = check_tensor("dv", a.dv, a.dv_strides, B, SK, HK, D, s.dtype, &p->dv)) ||
        (st = check_lse("lse", a.lse, s)))
        return st;
    p->lse = a.lse;
    p->deterministic = a.deterministic != 0;
    p->workspace = a.workspace;
    p->workspace_size = a.workspace_size;
    p->stream = a.stream;
    const NamedPtr ptrs[] = {{"dout", a.dout}, {"q", a.q},   {"k", a.k},
                             {"v", a.v},       {"out", a.out}, {"dq", a.dq},
                             {"dk", a.dk},     {"dv", a.dv}, {"lse", a.lse},
                             {"workspace", a.workspace}};
    const Strides* tensors[] = {&p->dout.s, &p->q.s, &p->k.s, &p->v.s,
                                &p->out.s, &p->dq.s, &p->dk.s, &p->dv.s};
    return choose_target(ptrs, 10, s, tensors, 8, target);
}

}  // namespace flashattn
