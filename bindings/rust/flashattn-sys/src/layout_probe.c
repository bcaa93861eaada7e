/* Sizes and field offsets of the C ABI's structs, as this C compiler lays them out, looked up
 * by name. tests/layout.rs compares them with the Rust declarations. */
#include <flashattn/flashattn.h>
#include <stddef.h>
#include <string.h>

#define SIZE(T) {#T, "", sizeof(T)},
#define FIELD(T, f) {#T, #f, offsetof(T, f)},

static const struct {
    const char* type;
    const char* field;
    size_t value;
} kTable[] = {
    SIZE(FlashAttnParams) FIELD(FlashAttnParams, seq_len) FIELD(FlashAttnParams, num_heads)
    FIELD(FlashAttnParams, head_dim) FIELD(FlashAttnParams, is_causal)
    FIELD(FlashAttnParams, softmax_scale)
    SIZE(FlashAttnStrides) FIELD(FlashAttnStrides, seq) FIELD(FlashAttnStrides, head)
    FIELD(FlashAttnStrides, dim)
    SIZE(FlashAttnForwardArgs) FIELD(FlashAttnForwardArgs, dtype) FIELD(FlashAttnForwardArgs, causal)
    FIELD(FlashAttnForwardArgs, batch) FIELD(FlashAttnForwardArgs, seqlen_q)
    FIELD(FlashAttnForwardArgs, seqlen_k) FIELD(FlashAttnForwardArgs, num_heads_q)
    FIELD(FlashAttnForwardArgs, num_heads_k) FIELD(FlashAttnForwardArgs, head_dim)
    FIELD(FlashAttnForwardArgs, softmax_scale) FIELD(FlashAttnForwardArgs, q)
    FIELD(FlashAttnForwardArgs, q_strides) FIELD(FlashAttnForwardArgs, k)
    FIELD(FlashAttnForwardArgs, k_strides) FIELD(FlashAttnForwardArgs, v)
    FIELD(FlashAttnForwardArgs, v_strides) FIELD(FlashAttnForwardArgs, out)
    FIELD(FlashAttnForwardArgs, out_strides) FIELD(FlashAttnForwardArgs, lse)
    FIELD(FlashAttnForwardArgs, workspace) FIELD(FlashAttnForwardArgs, workspace_size)
    FIELD(FlashAttnForwardArgs, stream)
    SIZE(FlashAttnBackwardArgs) FIELD(FlashAttnBackwardArgs, dtype)
    FIELD(FlashAttnBackwardArgs, causal) FIELD(FlashAttnBackwardArgs, batch)
    FIELD(FlashAttnBackwardArgs, seqlen_q) FIELD(FlashAttnBackwardArgs, seqlen_k)
    FIELD(FlashAttnBackwardArgs, num_heads_q) FIELD(FlashAttnBackwardArgs, num_heads_k)
    FIELD(FlashAttnBackwardArgs, head_dim) FIELD(FlashAttnBackwardArgs, softmax_scale)
    FIELD(FlashAttnBackwardArgs, deterministic) FIELD(FlashAttnBackwardArgs, dout)
    FIELD(FlashAttnBackwardArgs, dout_strides) FIELD(FlashAttnBackwardArgs, q)
    FIELD(FlashAttnBackwardArgs, q_strides) FIELD(FlashAttnBackwardArgs, k)
    FIELD(FlashAttnBackwardArgs, k_strides) FIELD(FlashAttnBackwardArgs, v)
    FIELD(FlashAttnBackwardArgs, v_strides) FIELD(FlashAttnBackwardArgs, out)
    FIELD(FlashAttnBackwardArgs, out_strides) FIELD(FlashAttnBackwardArgs, lse)
    FIELD(FlashAttnBackwardArgs, dq) FIELD(FlashAttnBackwardArgs, dq_strides)
    FIELD(FlashAttnBackwardArgs, dk) FIELD(FlashAttnBackwardArgs, dk_strides)
    FIELD(FlashAttnBackwardArgs, dv) FIELD(FlashAttnBackwardArgs, dv_strides)
    FIELD(FlashAttnBackwardArgs, workspace) FIELD(FlashAttnBackwardArgs, workspace_size)
    FIELD(FlashAttnBackwardArgs, stream)
    SIZE(FlashAttnBackendInfo) FIELD(FlashAttnBackendInfo, usable)
    FIELD(FlashAttnBackendInfo, device_count) FIELD(FlashAttnBackendInfo, dtypes)
    FIELD(FlashAttnBackendInfo, head_dim_min) FIELD(FlashAttnBackendInfo, head_dim_max)
    FIELD(FlashAttnBackendInfo, head_dim_step) FIELD(FlashAttnBackendInfo, features)
    FIELD(FlashAttnBackendInfo, pointer_alignment) FIELD(FlashAttnBackendInfo, name)
    FIELD(FlashAttnBackendInfo, detail)
    SIZE(FlashAttnInfo) FIELD(FlashAttnInfo, version_major) FIELD(FlashAttnInfo, version_minor)
    FIELD(FlashAttnInfo, version_patch) FIELD(FlashAttnInfo, backends)
};

/* The value for (type, field), field "" meaning sizeof(type); (size_t)-1 if unknown. */
size_t flashattn_sys_probe(const char* type, const char* field) {
    for (size_t i = 0; i < sizeof(kTable) / sizeof(kTable[0]); ++i) {
        if (strcmp(kTable[i].type, type) == 0 && strcmp(kTable[i].field, field) == 0)
            return kTable[i].value;
    }
    return (size_t)-1;
}

size_t flashattn_sys_probe_count(void) { return sizeof(kTable) / sizeof(kTable[0]); }
