//! Every struct of the C ABI has the same size and field offsets in Rust as in C.
use flashattn_sys::*;
use std::ffi::CString;
use std::mem::{offset_of, size_of};

fn c_value(ty: &str, field: &str) -> usize {
    let (t, f) = (CString::new(ty).unwrap(), CString::new(field).unwrap());
    // SAFETY: both pointers are valid NUL-terminated strings for the call's duration.
    unsafe { probe::flashattn_sys_probe(t.as_ptr(), f.as_ptr()) }
}

macro_rules! check {
    ($checked:ident, $ty:ident) => {{
        assert_eq!(size_of::<$ty>(), c_value(stringify!($ty), ""), "sizeof {}", stringify!($ty));
        $checked += 1;
    }};
    ($checked:ident, $ty:ident, $($field:ident),+) => {{
        check!($checked, $ty);
        $(
            assert_eq!(offset_of!($ty, $field), c_value(stringify!($ty), stringify!($field)),
                       "offset of {}.{}", stringify!($ty), stringify!($field));
            $checked += 1;
        )+
    }};
}

#[test]
fn rust_declarations_match_the_c_header() {
    let mut checked = 0usize;
    check!(checked, FlashAttnParams, seq_len, num_heads, head_dim, is_causal, softmax_scale);
    check!(checked, FlashAttnStrides, seq, head, dim);
    check!(checked, FlashAttnForwardArgs, dtype, causal, batch, seqlen_q, seqlen_k, num_heads_q,
           num_heads_k, head_dim, softmax_scale, q, q_strides, k, k_strides, v, v_strides, out,
           out_strides, lse, workspace, workspace_size, stream);
    check!(checked, FlashAttnBackwardArgs, dtype, causal, batch, seqlen_q, seqlen_k, num_heads_q,
           num_heads_k, head_dim, softmax_scale, deterministic, dout, dout_strides, q, q_strides,
           k, k_strides, v, v_strides, out, out_strides, lse, dq, dq_strides, dk, dk_strides, dv,
           dv_strides, workspace, workspace_size, stream);
    check!(checked, FlashAttnBackendInfo, usable, device_count, dtypes, head_dim_min,
           head_dim_max, head_dim_step, features, pointer_alignment, name, detail);
    check!(checked, FlashAttnInfo, version_major, version_minor, version_patch, backends);
    // Every entry of the C table was compared (none forgotten on either side).
    assert_eq!(checked, unsafe { probe::flashattn_sys_probe_count() });
}

#[test]
fn the_library_links_and_reports_its_version() {
    let mut info = FlashAttnInfo::default();
    assert_eq!(unsafe { flash_attn_get_info(&mut info) }, FLASH_ATTN_SUCCESS);
    assert_eq!((info.version_major, info.version_minor), (0, 1));
    assert_eq!(info.backends[FLASH_ATTN_BACKEND_CPU].usable, 1);
    let status = unsafe { flash_attn_fwd(std::ptr::null()) };
    assert_eq!(status, FLASH_ATTN_ERROR_INVALID_ARGUMENT);
    assert!(error_message(status).contains("args is NULL"), "{}", error_message(status));
}
