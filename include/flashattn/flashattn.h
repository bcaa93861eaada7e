/*
 * flashattn: exact, fused attention (the FlashAttention algorithm) behind a stable C ABI.
 *
 * Conventions (all entry points):
 *   - q is [batch, seqlen_q, num_heads_q, head_dim]; k and v are [batch, seqlen_k, num_heads_k,
 *     head_dim]; out and dout are shaped like q, dq like q, dk and dv like k.
 *   - Strides are in elements, for the batch, sequence, head and head_dim dimensions. The last
 *     dimension must be contiguous (dim stride 1, or 0 meaning 1). A stride struct of all zeros
 *     means "packed" for that tensor, so a zero-initialised argument struct describes contiguous
 *     tensors. Strides must be non-negative.
 *   - GQA/MQA: num_heads_q must be a multiple of num_heads_k; query head h reads KV head
 *     h / (num_heads_q / num_heads_k). K and V are never repeated in memory.
 *   - Causal masking is bottom-right aligned: query i sees keys j <= i + seqlen_k - seqlen_q.
 *     (PyTorch's is_causal is top-left aligned; the two agree when seqlen_q == seqlen_k.)
 *     A query row that sees no key produces an output row of zeros and an LSE of -inf.
 *   - LSE is float32 [batch, num_heads_q, seqlen_q], the natural log of the softmax denominator
 *     of the scaled scores: lse = log(sum_j exp(softmax_scale * q.k_j)).
 *   - Where the pointers live picks the backend: host memory runs the CPU backend, device memory
 *     the GPU backend of the device that owns it. Mixing host and device pointers is an error.
 *   - Every function returns a FlashAttnStatus (0 is success). On failure nothing was launched,
 *     outputs are untouched, and flash_attn_last_error() names the offending argument.
 *   - The library never prints, never exits and never aborts.
 */
#ifndef FLASHATTN_FLASHATTN_H
#define FLASHATTN_FLASHATTN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#if defined(_WIN32)
#if defined(FLASHATTN_BUILDING)
#define FLASHATTN_API __declspec(dllexport)
#else
#define FLASHATTN_API
#endif
#else
#define FLASHATTN_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define FLASHATTN_VERSION_MAJOR 0
#define FLASHATTN_VERSION_MINOR 1
#define FLASHATTN_VERSION_PATCH 0

/* ---------------------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------------------- */
typedef enum FlashAttnStatus {
    FLASH_ATTN_SUCCESS = 0,
    FLASH_ATTN_ERROR_INVALID_ARGUMENT = 1,  /* null pointer, zero or overflowing size, bad stride */
    FLASH_ATTN_ERROR_UNSUPPORTED = 2,       /* valid request this backend cannot serve (head_dim, dtype, alignment) */
    FLASH_ATTN_ERROR_OUT_OF_MEMORY = 3,     /* host or device allocation failed */
    FLASH_ATTN_ERROR_BACKEND_UNAVAILABLE = 4, /* backend not compiled in, or no usable device */
    FLASH_ATTN_ERROR_WORKSPACE_TOO_SMALL = 5, /* a workspace was given but is smaller than required */
    FLASH_ATTN_ERROR_DEVICE = 6,            /* the GPU runtime reported an error (see last_error) */
    FLASH_ATTN_ERROR_INTERNAL = 7           /* a bug in flashattn; please report the message */
} FlashAttnStatus;

/* A static string describing a status code ("success", "invalid argument", ...). Never NULL. */
FLASHATTN_API const char* flash_attn_status_string(int status);

/* The message of the last failing call on this thread, naming the argument and the accepted
 * range, e.g. "head_dim 300 unsupported by the CPU backend: 1..256". Empty after a success.
 * Valid until the next flashattn call on this thread. Never NULL. */
FLASHATTN_API const char* flash_attn_last_error(void);

/* ---------------------------------------------------------------------------------------------
 * The minimal API: contiguous [batch, seq_len, num_heads, head_dim] float16 tensors,
 * seqlen_q == seqlen_k, num_heads_q == num_heads_k, default stream. Returns a FlashAttnStatus.
 * ------------------------------------------------------------------------------------------- */
typedef struct FlashAttnParams {
    size_t batch_size;
    size_t seq_len;
    size_t num_heads;
    size_t head_dim;
    bool is_causal;
    float softmax_scale;
} FlashAttnParams;

FLASHATTN_API int flash_attn_forward(const void* q, const void* k, const void* v, void* out,
                                     const FlashAttnParams* params);

/* Recomputes the softmax statistics from q, k (no LSE is passed through this API). */
FLASHATTN_API int flash_attn_backward(const void* dout, const void* q, const void* k,
                                      const void* v, const void* out, void* dq, void* dk,
                                      void* dv, const FlashAttnParams* params);

/* ---------------------------------------------------------------------------------------------
 * The full API
 * ------------------------------------------------------------------------------------------- */
typedef enum FlashAttnDType {
    FLASH_ATTN_DTYPE_F16 = 0,
    FLASH_ATTN_DTYPE_BF16 = 1,
    FLASH_ATTN_DTYPE_F32 = 2
} FlashAttnDType;

/* Element strides. All zero means packed [batch, seq, heads, head_dim]; dim must be 1 (or 0). */
typedef struct FlashAttnStrides {
    int64_t batch;
    int64_t seq;
    int64_t head;
    int64_t dim;
} FlashAttnStrides;

/* Forward: out = softmax(softmax_scale * q k^T + mask) v, per (batch, query head).
 * Version 1 of the struct. Always set struct_size = sizeof(FlashAttnForwardArgs) (the init
 * helper below does): fields added in later versions go at the end and take a default when a
 * caller compiled against an older header passes a smaller struct_size. */
typedef struct FlashAttnForwardArgs {
    size_t struct_size;
    int32_t dtype;              /* FlashAttnDType of q, k, v and out */
    int32_t causal;             /* nonzero: bottom-right aligned causal mask */
    int64_t batch;
    int64_t seqlen_q;
    int64_t seqlen_k;
    int64_t num_heads_q;
    int64_t num_heads_k;        /* divides num_heads_q (GQA/MQA) */
    int64_t head_dim;
    float softmax_scale;        /* any finite value; usually 1/sqrt(head_dim) */
    const void* q;
    FlashAttnStrides q_strides;
    const void* k;
    FlashAttnStrides k_strides;
    const void* v;
    FlashAttnStrides v_strides;
    void* out;
    FlashAttnStrides out_strides;
    float* lse;                 /* optional: float32 [batch, num_heads_q, seqlen_q]; NULL skips it */
    void* workspace;            /* optional: see flash_attn_forward_workspace_size; NULL lets the
                                 * library allocate (stream-ordered on the GPU) */
    size_t workspace_size;
    void* stream;               /* cudaStream_t for the GPU backends; NULL is the default stream;
                                 * ignored by the CPU backend */
} FlashAttnForwardArgs;

/* Backward: given dout = dL/dout, computes dq, dk, dv. dk and dv are summed over the query heads
 * of each GQA group. Version 1 of the struct (same rules as the forward struct). */
typedef struct FlashAttnBackwardArgs {
    size_t struct_size;
    int32_t dtype;              /* FlashAttnDType of every tensor except lse */
    int32_t causal;
    int64_t batch;
    int64_t seqlen_q;
    int64_t seqlen_k;
    int64_t num_heads_q;
    int64_t num_heads_k;
    int64_t head_dim;
    float softmax_scale;
    int32_t deterministic;      /* nonzero: bit-identical gradients run to run (the CPU backend
                                 * always is) */
    const void* dout;
    FlashAttnStrides dout_strides;
    const void* q;
    FlashAttnStrides q_strides;
    const void* k;
    FlashAttnStrides k_strides;
    const void* v;
    FlashAttnStrides v_strides;
    const void* out;            /* the forward output */
    FlashAttnStrides out_strides;
    const float* lse;           /* optional: the forward LSE; NULL recomputes it */
    void* dq;
    FlashAttnStrides dq_strides;
    void* dk;
    FlashAttnStrides dk_strides;
    void* dv;
    FlashAttnStrides dv_strides;
    void* workspace;            /* optional, see flash_attn_backward_workspace_size */
    size_t workspace_size;
    void* stream;
} FlashAttnBackwardArgs;

/* Zero a struct and set its struct_size: the one correct way to start filling one in. */
static inline void flash_attn_forward_args_init(FlashAttnForwardArgs* args) {
    memset(args, 0, sizeof(*args));
    args->struct_size = sizeof(*args);
}
static inline void flash_attn_backward_args_init(FlashAttnBackwardArgs* args) {
    memset(args, 0, sizeof(*args));
    args->struct_size = sizeof(*args);
}

FLASHATTN_API int flash_attn_fwd(const FlashAttnForwardArgs* args);
FLASHATTN_API int flash_attn_bwd(const FlashAttnBackwardArgs* args);

/* Bytes of workspace the call would need for these arguments (pointers are used only to pick
 * the backend). 0 means none. Validates the arguments like the call itself. */
FLASHATTN_API int flash_attn_forward_workspace_size(const FlashAttnForwardArgs* args,
                                                    size_t* bytes);
FLASHATTN_API int flash_attn_backward_workspace_size(const FlashAttnBackwardArgs* args,
                                                     size_t* bytes);

/* ---------------------------------------------------------------------------------------------
 * Capabilities and version
 * ------------------------------------------------------------------------------------------- */
typedef enum FlashAttnBackend {
    FLASH_ATTN_BACKEND_CPU = 0,
    FLASH_ATTN_BACKEND_CUDA = 1,
    FLASH_ATTN_BACKEND_HIP = 2,
    FLASH_ATTN_NUM_BACKENDS = 3
} FlashAttnBackend;

/* Feature bits of FlashAttnBackendInfo.features. */
#define FLASH_ATTN_FEATURE_BACKWARD (1u << 0)
#define FLASH_ATTN_FEATURE_CAUSAL (1u << 1)
#define FLASH_ATTN_FEATURE_GQA (1u << 2)
#define FLASH_ATTN_FEATURE_LSE (1u << 3)
#define FLASH_ATTN_FEATURE_STRIDES (1u << 4)
#define FLASH_ATTN_FEATURE_DETERMINISTIC (1u << 5)
#define FLASH_ATTN_FEATURE_F32_ON_TENSOR_CORES (1u << 6) /* f32 inputs computed on tensor cores */

typedef struct FlashAttnBackendInfo {
    int32_t compiled;           /* built into this library */
    int32_t usable;             /* compiled and, for a GPU backend, a supported device present */
    int32_t device_count;       /* usable GPUs (1 for the CPU) */
    uint32_t dtypes;            /* bit (1 << FlashAttnDType) per supported dtype */
    int32_t head_dim_min;
    int32_t head_dim_max;
    int32_t head_dim_step;      /* supported head dims: min, min + step, ..., max */
    uint32_t features;          /* FLASH_ATTN_FEATURE_* bits */
    int32_t pointer_alignment;  /* bytes every tensor pointer and stride must be aligned to */
    char name[32];
    char detail[96];            /* e.g. "2 threads" or the GPU's name and compute capability */
} FlashAttnBackendInfo;

typedef struct FlashAttnInfo {
    size_t struct_size;         /* set to sizeof(FlashAttnInfo) before the call */
    int32_t version_major;
    int32_t version_minor;
    int32_t version_patch;
    FlashAttnBackendInfo backends[FLASH_ATTN_NUM_BACKENDS];
} FlashAttnInfo;

FLASHATTN_API int flash_attn_get_info(FlashAttnInfo* info);

/* "0.1.0" */
FLASHATTN_API const char* flash_attn_version_string(void);

/* Threads used by the CPU backend; 0 restores the default (every core this process may use). */
FLASHATTN_API int flash_attn_cpu_set_num_threads(int num_threads);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FLASHATTN_FLASHATTN_H */
