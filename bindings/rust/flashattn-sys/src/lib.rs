//! Raw FFI to flashattn's C ABI (`include/flashattn/flashattn.h`): exact, fused attention with a
//! CPU backend and a CUDA backend. The declarations mirror the header one for one; the crate's
//! tests check every size and field offset against the C compiler's. See the header for the
//! conventions (layout `[batch, seq, heads, head_dim]`, element strides, bottom-right causal,
//! GQA, LSE). Safe wrappers live in `candle-flashattn`.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};

pub const FLASH_ATTN_SUCCESS: c_int = 0;
pub const FLASH_ATTN_ERROR_INVALID_ARGUMENT: c_int = 1;
pub const FLASH_ATTN_ERROR_UNSUPPORTED: c_int = 2;
pub const FLASH_ATTN_ERROR_OUT_OF_MEMORY: c_int = 3;
pub const FLASH_ATTN_ERROR_BACKEND_UNAVAILABLE: c_int = 4;
pub const FLASH_ATTN_ERROR_WORKSPACE_TOO_SMALL: c_int = 5;
pub const FLASH_ATTN_ERROR_DEVICE: c_int = 6;
pub const FLASH_ATTN_ERROR_INTERNAL: c_int = 7;

pub const FLASH_ATTN_DTYPE_F16: i32 = 0;
pub const FLASH_ATTN_DTYPE_BF16: i32 = 1;
pub const FLASH_ATTN_DTYPE_F32: i32 = 2;

pub const FLASH_ATTN_BACKEND_CPU: usize = 0;
pub const FLASH_ATTN_BACKEND_CUDA: usize = 1;
pub const FLASH_ATTN_BACKEND_HIP: usize = 2;
pub const FLASH_ATTN_NUM_BACKENDS: usize = 3;

pub const FLASH_ATTN_FEATURE_BACKWARD: u32 = 1 << 0;
pub const FLASH_ATTN_FEATURE_CAUSAL: u32 = 1 << 1;
pub const FLASH_ATTN_FEATURE_GQA: u32 = 1 << 2;
pub const FLASH_ATTN_FEATURE_LSE: u32 = 1 << 3;
pub const FLASH_ATTN_FEATURE_STRIDES: u32 = 1 << 4;
pub const FLASH_ATTN_FEATURE_DETERMINISTIC: u32 = 1 << 5;
pub const FLASH_ATTN_FEATURE_F32_ON_TENSOR_CORES: u32 = 1 << 6;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlashAttnParams {
    pub batch_size: usize,
    pub seq_len: usize,
    pub num_heads: usize,
    pub head_dim: usize,
    pub is_causal: bool,
    pub softmax_scale: f32,
}

/// Element strides; all zero means packed, `dim` must be 1 (or 0).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlashAttnStrides {
    pub batch: i64,
    pub seq: i64,
    pub head: i64,
    pub dim: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FlashAttnForwardArgs {
    pub struct_size: usize,
    pub dtype: i32,
    pub causal: i32,
    pub batch: i64,
    pub seqlen_q: i64,
    pub seqlen_k: i64,
    pub num_heads_q: i64,
    pub num_heads_k: i64,
    pub head_dim: i64,
    pub softmax_scale: f32,
    pub q: *const c_void,
    pub q_strides: FlashAttnStrides,
    pub k: *const c_void,
    pub k_strides: FlashAttnStrides,
    pub v: *const c_void,
    pub v_strides: FlashAttnStrides,
    pub out: *mut c_void,
    pub out_strides: FlashAttnStrides,
    pub lse: *mut f32,
    pub workspace: *mut c_void,
    pub workspace_size: usize,
    pub stream: *mut c_void,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FlashAttnBackwardArgs {
    pub struct_size: usize,
    pub dtype: i32,
    pub causal: i32,
    pub batch: i64,
    pub seqlen_q: i64,
    pub seqlen_k: i64,
    pub num_heads_q: i64,
    pub num_heads_k: i64,
    pub head_dim: i64,
    pub softmax_scale: f32,
    pub deterministic: i32,
    pub dout: *const c_void,
    pub dout_strides: FlashAttnStrides,
    pub q: *const c_void,
    pub q_strides: FlashAttnStrides,
    pub k: *const c_void,
    pub k_strides: FlashAttnStrides,
    pub v: *const c_void,
    pub v_strides: FlashAttnStrides,
    pub out: *const c_void,
    pub out_strides: FlashAttnStrides,
    pub lse: *const f32,
    pub dq: *mut c_void,
    pub dq_strides: FlashAttnStrides,
    pub dk: *mut c_void,
    pub dk_strides: FlashAttnStrides,
    pub dv: *mut c_void,
    pub dv_strides: FlashAttnStrides,
    pub workspace: *mut c_void,
    pub workspace_size: usize,
    pub stream: *mut c_void,
}

/// Zeroed with `struct_size` set: the counterpart of the header's `_init` helpers.
impl Default for FlashAttnForwardArgs {
    fn default() -> Self {
        // SAFETY: all-zero bytes are a valid value of this plain-data struct (null pointers).
        let mut a: Self = unsafe { std::mem::zeroed() };
        a.struct_size = std::mem::size_of::<Self>();
        a
    }
}

impl Default for FlashAttnBackwardArgs {
    fn default() -> Self {
        // SAFETY: as above.
        let mut a: Self = unsafe { std::mem::zeroed() };
        a.struct_size = std::mem::size_of::<Self>();
        a
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FlashAttnBackendInfo {
    pub compiled: i32,
    pub usable: i32,
    pub device_count: i32,
    pub dtypes: u32,
    pub head_dim_min: i32,
    pub head_dim_max: i32,
    pub head_dim_step: i32,
    pub features: u32,
    pub pointer_alignment: i32,
    pub name: [c_char; 32],
    pub detail: [c_char; 96],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FlashAttnInfo {
    pub struct_size: usize,
    pub version_major: i32,
    pub version_minor: i32,
    pub version_patch: i32,
    pub backends: [FlashAttnBackendInfo; FLASH_ATTN_NUM_BACKENDS],
}

impl Default for FlashAttnInfo {
    fn default() -> Self {
        // SAFETY: all-zero bytes are a valid value of this plain-data struct.
        let mut a: Self = unsafe { std::mem::zeroed() };
        a.struct_size = std::mem::size_of::<Self>();
        a
    }
}

extern "C" {
    pub fn flash_attn_status_string(status: c_int) -> *const c_char;
    pub fn flash_attn_last_error() -> *const c_char;
    pub fn flash_attn_forward(
        q: *const c_void,
        k: *const c_void,
        v: *const c_void,
        out: *mut c_void,
        params: *const FlashAttnParams,
    ) -> c_int;
    pub fn flash_attn_backward(
        dout: *const c_void,
        q: *const c_void,
        k: *const c_void,
        v: *const c_void,
        out: *const c_void,
        dq: *mut c_void,
        dk: *mut c_void,
        dv: *mut c_void,
        params: *const FlashAttnParams,
    ) -> c_int;
    pub fn flash_attn_fwd(args: *const FlashAttnForwardArgs) -> c_int;
    pub fn flash_attn_bwd(args: *const FlashAttnBackwardArgs) -> c_int;
    pub fn flash_attn_forward_workspace_size(
        args: *const FlashAttnForwardArgs,
        bytes: *mut usize,
    ) -> c_int;
    pub fn flash_attn_backward_workspace_size(
        args: *const FlashAttnBackwardArgs,
        bytes: *mut usize,
    ) -> c_int;
    pub fn flash_attn_get_info(info: *mut FlashAttnInfo) -> c_int;
    pub fn flash_attn_version_string() -> *const c_char;
    pub fn flash_attn_cpu_set_num_threads(num_threads: c_int) -> c_int;
}

#[doc(hidden)]
pub mod probe {
    //! The C compiler's view of the structs, for the layout tests.
    use std::ffi::c_char;
    extern "C" {
        pub fn flashattn_sys_probe(type_name: *const c_char, field: *const c_char) -> usize;
        pub fn flashattn_sys_probe_count() -> usize;
    }
}

/// The message for a failing status: the status text and the library's last error, which
/// names the offending argument.
pub fn error_message(status: c_int) -> String {
    // SAFETY: both functions return static or thread-local NUL-terminated strings, never null.
    unsafe {
        let s = std::ffi::CStr::from_ptr(flash_attn_status_string(status)).to_string_lossy();
        let e = std::ffi::CStr::from_ptr(flash_attn_last_error()).to_string_lossy();
        format!("{s}: {e}")
    }
}
