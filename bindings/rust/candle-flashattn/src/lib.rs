//! flashattn for candle: the public functions of `candle-flash-attn`, with the same names,
//! signatures and semantics, backed by flashattn's C ABI. Switching is one line:
//! `use candle_flash_attn::flash_attn;` becomes `use candle_flashattn::flash_attn;`.
//!
//! Tensors are `(batch, seq, heads, head_dim)` in F16, BF16 or F32 (the last dimension
//! contiguous; other strides, such as a transposed `(batch, heads, seq, head_dim)` buffer, pass
//! without a copy). Causal masking is bottom-right aligned; k and v may have fewer heads than q
//! (GQA/MQA). Gradients flow through candle's autograd.
//!
//! Backends: the CPU backend always; the CUDA backend with the `cuda` feature, on candle's own
//! stream, with device pointers taken from candle's storage (no copies). Features
//! the library does not support yet (sliding windows, ALiBi, softcap, varlen, paged KV) return
//! an error naming the feature; nothing panics.
use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor, D};
use flashattn_sys as sys;
use half::{bf16, f16};
use std::ffi::c_void;

/// Dims and element strides of a rank-4 `(batch, seq, heads, head_dim)` layout.
#[derive(Clone, Copy, Debug)]
struct View {
    dims: [usize; 4],
    strides: sys::FlashAttnStrides,
}

fn view(name: &str, l: &Layout) -> Result<View> {
    let (d, s) = (l.dims(), l.stride());
    if d.len() != 4 {
        bail!("flashattn: {name} must have rank 4 (batch, seq, heads, head_dim), got {:?}", d)
    }
    if s[3] != 1 && d[3] > 1 {
        bail!("flashattn: the last dimension of {name} must be contiguous, strides {:?}", s)
    }
    Ok(View {
        dims: [d[0], d[1], d[2], d[3]],
        strides: sys::FlashAttnStrides { batch: s[0] as i64, seq: s[1] as i64, head: s[2] as i64, dim: 1 },
    })
}

fn check_shapes(q: &View, k: &View, v: &View) -> Result<()> {
    if k.dims != v.dims {
        bail!("flashattn: k {:?} and v {:?} must have the same shape", k.dims, v.dims)
    }
    if q.dims[0] != k.dims[0] || q.dims[3] != k.dims[3] {
        bail!("flashattn: q {:?} and k {:?} must agree in batch and head_dim", q.dims, k.dims)
    }
    Ok(())
}

fn dtype_code(dt: DType) -> Result<i32> {
    Ok(match dt {
        DType::F16 => sys::FLASH_ATTN_DTYPE_F16,
        DType::BF16 => sys::FLASH_ATTN_DTYPE_BF16,
        DType::F32 => sys::FLASH_ATTN_DTYPE_F32,
        other => bail!("flashattn: dtype {other:?} unsupported: F16, BF16 or F32"),
    })
}

fn check_status(status: i32) -> Result<()> {
    if status != sys::FLASH_ATTN_SUCCESS {
        bail!("flashattn: {}", sys::error_message(status))
    }
    Ok(())
}

/// The element type behind a CPU storage, with a pointer to the layout's first element.
fn cpu_ptr<T: candle_core::WithDType>(s: &CpuStorage, l: &Layout) -> Result<*const c_void> {
    let slice = s.as_slice::<T>()?;
    if l.start_offset() > slice.len() {
        bail!("flashattn: layout offset past the storage")
    }
    Ok(slice[l.start_offset()..].as_ptr() as *const c_void)
}

fn cpu_input(s: &CpuStorage, l: &Layout) -> Result<*const c_void> {
    match s.dtype() {
        DType::F16 => cpu_ptr::<f16>(s, l),
        DType::BF16 => cpu_ptr::<bf16>(s, l),
        DType::F32 => cpu_ptr::<f32>(s, l),
        other => bail!("flashattn: dtype {other:?} unsupported: F16, BF16 or F32"),
    }
}

/// A zeroed CPU buffer of `n` elements of `dt`, and a pointer to it.
fn cpu_output(dt: DType, n: usize) -> Result<(CpuStorage, *mut c_void)> {
    let mut s = match dt {
        DType::F16 => CpuStorage::F16(vec![f16::ZERO; n]),
        DType::BF16 => CpuStorage::BF16(vec![bf16::ZERO; n]),
        DType::F32 => CpuStorage::F32(vec![0f32; n]),
        other => bail!("flashattn: dtype {other:?} unsupported: F16, BF16 or F32"),
    };
    let ptr = match &mut s {
        CpuStorage::F16(v) => v.as_mut_ptr() as *mut c_void,
        CpuStorage::BF16(v) => v.as_mut_ptr() as *mut c_void,
        CpuStorage::F32(v) => v.as_mut_ptr() as *mut c_void,
        _ => unreachable!("allocated above"),
    };
    Ok((s, ptr))
}

fn packed(dims: [usize; 4]) -> sys::FlashAttnStrides {
    let [_, s, h, d] = dims;
    sys::FlashAttnStrides { batch: (s * h * d) as i64, seq: (h * d) as i64, head: d as i64, dim: 1 }
}

/// Pointers of one call, wherever they live (host or device).
struct FwdPtrs {
    q: *const c_void,
    k: *const c_void,
    v: *const c_void,
    out: *mut c_void,
    stream: *mut c_void,
}

fn forward_args(op: &FlashAttnOp, qv: &View, kv: &View, vv: &View, dt: DType, p: FwdPtrs) -> Result<sys::FlashAttnForwardArgs> {
    let [b, sq, hq, d] = qv.dims;
    Ok(sys::FlashAttnForwardArgs {
        dtype: dtype_code(dt)?,
        causal: op.causal as i32,
        batch: b as i64,
        seqlen_q: sq as i64,
        seqlen_k: kv.dims[1] as i64,
        num_heads_q: hq as i64,
        num_heads_k: kv.dims[2] as i64,
        head_dim: d as i64,
        softmax_scale: op.softmax_scale,
        q: p.q,
        q_strides: qv.strides,
        k: p.k,
        k_strides: kv.strides,
        v: p.v,
        v_strides: vv.strides,
        out: p.out,
        out_strides: packed(qv.dims),
        stream: p.stream,
        ..Default::default()
    })
}

/// Pointers of one backward call; the gradients are consecutive parts of one buffer.
struct BwdPtrs {
    dout: *const c_void,
    q: *const c_void,
    k: *const c_void,
    v: *const c_void,
    out: *const c_void,
    grads: *mut c_void,
    stream: *mut c_void,
}

struct BwdViews {
    q: View,
    k: View,
    v: View,
    out: View,
    dout: View,
}

fn backward_args(op: &FlashAttnBwdOp, vw: &BwdViews, dt: DType, p: BwdPtrs) -> Result<sys::FlashAttnBackwardArgs> {
    let [b, sq, hq, d] = vw.q.dims;
    let (nq, nk) = (vw.q.dims.iter().product::<usize>(), vw.k.dims.iter().product::<usize>());
    let es = dt.size_in_bytes();
    let base = p.grads as *mut u8;
    Ok(sys::FlashAttnBackwardArgs {
        dtype: dtype_code(dt)?,
        causal: op.causal as i32,
        batch: b as i64,
        seqlen_q: sq as i64,
        seqlen_k: vw.k.dims[1] as i64,
        num_heads_q: hq as i64,
        num_heads_k: vw.k.dims[2] as i64,
        head_dim: d as i64,
        softmax_scale: op.softmax_scale,
        dout: p.dout,
        dout_strides: vw.dout.strides,
        q: p.q,
        q_strides: vw.q.strides,
        k: p.k,
        k_strides: vw.k.strides,
        v: p.v,
        v_strides: vw.v.strides,
        out: p.out,
        out_strides: vw.out.strides,
        // [dq | dk | dv] in a buffer of nq + 2 nk elements (wrapping_add: plain address
        // arithmetic, the library validates and writes).
        dq: base as *mut c_void,
        dq_strides: packed(vw.q.dims),
        dk: base.wrapping_add(nq * es) as *mut c_void,
        dk_strides: packed(vw.k.dims),
        dv: base.wrapping_add((nq + nk) * es) as *mut c_void,
        dv_strides: packed(vw.k.dims),
        stream: p.stream,
        ..Default::default()
    })
}

/// Views and dtype checks shared by both devices: (q, k, v) views and the common dtype.
fn forward_views(ql: &Layout, kl: &Layout, vl: &Layout, dts: [DType; 3]) -> Result<(View, View, View)> {
    let (qv, kv, vv) = (view("q", ql)?, view("k", kl)?, view("v", vl)?);
    check_shapes(&qv, &kv, &vv)?;
    if dts[1] != dts[0] || dts[2] != dts[0] {
        bail!("flashattn: q, k, v must share one dtype, got {:?}, {:?}, {:?}", dts[0], dts[1], dts[2])
    }
    Ok((qv, kv, vv))
}

fn backward_views(q: View, k: View, v: View, out_l: &Layout, dout_l: &Layout, dts: [DType; 3]) -> Result<BwdViews> {
    let (out, dout) = (view("out", out_l)?, view("dout", dout_l)?);
    if out.dims != q.dims || dout.dims != q.dims {
        bail!("flashattn: out {:?} and dout {:?} must be shaped like q {:?}", out.dims, dout.dims, q.dims)
    }
    if dts[1] != dts[0] || dts[2] != dts[0] {
        bail!("flashattn: out and dout must have q's dtype {:?}", dts[0])
    }
    Ok(BwdViews { q, k, v, out, dout })
}

#[cfg(feature = "cuda")]
mod cuda {
    //! The CUDA path: device pointers from candle's storage, on candle's stream.
    use super::*;
    use candle_core::cuda_backend::cudarc::driver::{CudaStream, DevicePtr, DevicePtrMut};
    use candle_core::cuda_backend::CudaDType;
    use candle_core::CudaStorage;

    /// A device pointer to the layout's first element. cudarc's pointer guard (event-based
    /// ordering across streams) is dropped at once: candle runs every op of a device on one
    /// stream, and flashattn is enqueued on that same stream, so stream order covers it.
    pub(super) fn input(s: &CudaStorage, l: &Layout, stream: &CudaStream) -> Result<*const c_void> {
        fn typed<T: CudaDType + candle_core::cuda_backend::cudarc::driver::DeviceRepr>(
            s: &CudaStorage,
            l: &Layout,
            stream: &CudaStream,
        ) -> Result<*const c_void> {
            let slice = s.as_cuda_slice::<T>()?;
            if l.start_offset() > slice.len() {
                bail!("flashattn: layout offset past the storage")
            }
            let (ptr, _guard) = slice.device_ptr(stream);
            Ok((ptr as usize + l.start_offset() * std::mem::size_of::<T>()) as *const c_void)
        }
        match s.dtype() {
            DType::F16 => typed::<f16>(s, l, stream),
            DType::BF16 => typed::<bf16>(s, l, stream),
            DType::F32 => typed::<f32>(s, l, stream),
            other => bail!("flashattn: dtype {other:?} unsupported: F16, BF16 or F32"),
        }
    }

    /// Runs `call` with a fresh device buffer of `n` elements of `dt` and returns it as storage.
    pub(super) fn with_output(
        dev: &candle_core::CudaDevice,
        dt: DType,
        n: usize,
        call: impl FnOnce(*mut c_void) -> Result<()>,
    ) -> Result<CudaStorage> {
        fn typed<T: CudaDType + candle_core::cuda_backend::cudarc::driver::DeviceRepr>(
            dev: &candle_core::CudaDevice,
            n: usize,
            call: impl FnOnce(*mut c_void) -> Result<()>,
        ) -> Result<CudaStorage> {
            // SAFETY: the library writes every element before anything reads the buffer
            // (it validates first and leaves outputs untouched only on error, which we return).
            let mut out = unsafe { dev.alloc::<T>(n)? };
            let stream = dev.cuda_stream();
            {
                let (ptr, _guard) = out.device_ptr_mut(&stream);
                call(ptr as *mut c_void)?;
            }
            Ok(CudaStorage::wrap_cuda_slice(out, dev.clone()))
        }
        match dt {
            DType::F16 => typed::<f16>(dev, n, call),
            DType::BF16 => typed::<bf16>(dev, n, call),
            DType::F32 => typed::<f32>(dev, n, call),
            other => bail!("flashattn: dtype {other:?} unsupported: F16, BF16 or F32"),
        }
    }
}

/// Forward: the op applied to (q, k, v).
struct FlashAttnOp {
    softmax_scale: f32,
    causal: bool,
}

impl CustomOp3 for FlashAttnOp {
    fn name(&self) -> &'static str {
        "flashattn"
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        ql: &Layout,
        k: &CpuStorage,
        kl: &Layout,
        v: &CpuStorage,
        vl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (qv, kv, vv) = forward_views(ql, kl, vl, [q.dtype(), k.dtype(), v.dtype()])?;
        let dt = q.dtype();
        let (out, out_ptr) = cpu_output(dt, qv.dims.iter().product())?;
        let ptrs = FwdPtrs {
            q: cpu_input(q, ql)?,
            k: cpu_input(k, kl)?,
            v: cpu_input(v, vl)?,
            out: out_ptr,
            stream: std::ptr::null_mut(),
        };
        let args = forward_args(self, &qv, &kv, &vv, dt, ptrs)?;
        // SAFETY: every pointer covers its layout (checked against the storage above and
        // validated again by the library); `out` is a fresh buffer of b*sq*hq*d elements.
        check_status(unsafe { sys::flash_attn_fwd(&args) })?;
        Ok((out, Shape::from(qv.dims.to_vec())))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        q: &candle_core::CudaStorage,
        ql: &Layout,
        k: &candle_core::CudaStorage,
        kl: &Layout,
        v: &candle_core::CudaStorage,
        vl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (qv, kv, vv) = forward_views(ql, kl, vl, [q.dtype(), k.dtype(), v.dtype()])?;
        let dt = q.dtype();
        let dev = q.device.clone();
        let stream = dev.cuda_stream();
        let qp = cuda::input(q, ql, &stream)?;
        let kp = cuda::input(k, kl, &stream)?;
        let vp = cuda::input(v, vl, &stream)?;
        let out = cuda::with_output(&dev, dt, qv.dims.iter().product(), |out| {
            let ptrs = FwdPtrs { q: qp, k: kp, v: vp, out, stream: stream.cu_stream() as *mut c_void };
            let args = forward_args(self, &qv, &kv, &vv, dt, ptrs)?;
            // SAFETY: device pointers of live slices covering their layouts, enqueued on the
            // stream candle orders them on.
            check_status(unsafe { sys::flash_attn_fwd(&args) })
        })?;
        Ok((out, Shape::from(qv.dims.to_vec())))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        out: &Tensor,
        dout: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let op = FlashAttnBwdOp {
            softmax_scale: self.softmax_scale,
            causal: self.causal,
            out: out.clone(),
            dout: dout.clone(),
        };
        // One flat result [dq | dk | dv], split below: a custom op has a single output.
        let grads = q.apply_op3_no_bwd(k, v, &op)?;
        let (nq, nk) = (q.elem_count(), k.elem_count());
        let dq = grads.narrow(0, 0, nq)?.reshape(q.shape())?;
        let dk = grads.narrow(0, nq, nk)?.reshape(k.shape())?;
        let dv = grads.narrow(0, nq + nk, nk)?.reshape(v.shape())?;
        Ok((Some(dq), Some(dk), Some(dv)))
    }
}

/// Backward: applied to (q, k, v), with the forward output and its gradient carried along.
struct FlashAttnBwdOp {
    softmax_scale: f32,
    causal: bool,
    out: Tensor,
    dout: Tensor,
}

impl FlashAttnBwdOp {
    /// Elements of the flat [dq | dk | dv] result.
    fn grads_len(&self, vw: &BwdViews) -> usize {
        vw.q.dims.iter().product::<usize>() + 2 * vw.k.dims.iter().product::<usize>()
    }
}

impl CustomOp3 for FlashAttnBwdOp {
    fn name(&self) -> &'static str {
        "flashattn-bwd"
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        ql: &Layout,
        k: &CpuStorage,
        kl: &Layout,
        v: &CpuStorage,
        vl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (qv, kv, vv) = forward_views(ql, kl, vl, [q.dtype(), k.dtype(), v.dtype()])?;
        let dt = q.dtype();
        let (out_s, out_l) = self.out.storage_and_layout();
        let (dout_s, dout_l) = self.dout.storage_and_layout();
        let (Storage::Cpu(out_s), Storage::Cpu(dout_s)) = (&*out_s, &*dout_s) else {
            bail!("flashattn: backward tensors must all be on the CPU")
        };
        let vw = backward_views(qv, kv, vv, out_l, dout_l, [dt, out_s.dtype(), dout_s.dtype()])?;
        let n = self.grads_len(&vw);
        let (grads, ptr) = cpu_output(dt, n)?;
        let ptrs = BwdPtrs {
            dout: cpu_input(dout_s, dout_l)?,
            q: cpu_input(q, ql)?,
            k: cpu_input(k, kl)?,
            v: cpu_input(v, vl)?,
            out: cpu_input(out_s, out_l)?,
            grads: ptr,
            stream: std::ptr::null_mut(),
        };
        let args = backward_args(self, &vw, dt, ptrs)?;
        // SAFETY: inputs cover their layouts; outputs are disjoint parts of a fresh buffer.
        check_status(unsafe { sys::flash_attn_bwd(&args) })?;
        Ok((grads, Shape::from(n)))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        q: &candle_core::CudaStorage,
        ql: &Layout,
        k: &candle_core::CudaStorage,
        kl: &Layout,
        v: &candle_core::CudaStorage,
        vl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (qv, kv, vv) = forward_views(ql, kl, vl, [q.dtype(), k.dtype(), v.dtype()])?;
        let dt = q.dtype();
        let (out_s, out_l) = self.out.storage_and_layout();
        let (dout_s, dout_l) = self.dout.storage_and_layout();
        let (Storage::Cuda(out_s), Storage::Cuda(dout_s)) = (&*out_s, &*dout_s) else {
            bail!("flashattn: backward tensors must all be on the same CUDA device")
        };
        let vw = backward_views(qv, kv, vv, out_l, dout_l, [dt, out_s.dtype(), dout_s.dtype()])?;
        let n = self.grads_len(&vw);
        let dev = q.device.clone();
        let stream = dev.cuda_stream();
        let qp = cuda::input(q, ql, &stream)?;
        let kp = cuda::input(k, kl, &stream)?;
        let vp = cuda::input(v, vl, &stream)?;
        let op = cuda::input(out_s, out_l, &stream)?;
        let dop = cuda::input(dout_s, dout_l, &stream)?;
        let grads = cuda::with_output(&dev, dt, n, |grads| {
            let ptrs = BwdPtrs { dout: dop, q: qp, k: kp, v: vp, out: op, grads, stream: stream.cu_stream() as *mut c_void };
            let args = backward_args(self, &vw, dt, ptrs)?;
            // SAFETY: as in the forward; the gradients are disjoint parts of a fresh buffer.
            check_status(unsafe { sys::flash_attn_bwd(&args) })
        })?;
        Ok((grads, Shape::from(n)))
    }
}

/// Maps a candle-flash-attn window to what flashattn computes: full attention (no limit on
/// either side) or bottom-right causal (right window 0). Windows that limit nothing for these
/// sequence lengths count as no limit; any other window is a sliding window, not supported yet.
fn window_to_causal(
    q: &Tensor,
    k: &Tensor,
    window_size_left: Option<usize>,
    window_size_right: Option<usize>,
) -> Result<bool> {
    let (sq, sk) = (q.dim(1)?, k.dim(1)?);
    // Key j is visible to query i when i + sk - sq - left <= j <= i + sk - sq + right.
    let left_unlimited = window_size_left.map_or(true, |l| l + 1 >= sk);
    let right_unlimited = window_size_right.map_or(true, |r| r + 1 >= sq);
    match (left_unlimited, right_unlimited, window_size_right) {
        (true, true, _) => Ok(false),
        (true, false, Some(0)) => Ok(true),
        _ => bail!(
            "flashattn: sliding-window attention (window_size_left={window_size_left:?}, \
             window_size_right={window_size_right:?}) is not supported yet: use None/None (full) \
             or None/Some(0) (causal)"
        ),
    }
}

fn unsupported<T>(feature: &str) -> Result<T> {
    bail!("flashattn: {feature} is not supported yet")
}

/// Flash attention. `q`: `(batch, seq_q, heads_q, head_dim)`, `k`, `v`:
/// `(batch, seq_k, heads_k, head_dim)` with `heads_q` a multiple of `heads_k`. Causal masking
/// is bottom-right aligned (query i sees keys `j <= i + seq_k - seq_q`). Returns
/// `(batch, seq_q, heads_q, head_dim)`; differentiable.
pub fn flash_attn(q: &Tensor, k: &Tensor, v: &Tensor, softmax_scale: f32, causal: bool) -> Result<Tensor> {
    q.apply_op3(k, v, FlashAttnOp { softmax_scale, causal })
}

/// Flash attention with a window: `None`/`None` is full attention and `None`/`Some(0)` causal;
/// other windows (sliding-window attention) return an error until the library supports them.
pub fn flash_attn_windowed(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    softmax_scale: f32,
    window_size_left: Option<usize>,
    window_size_right: Option<usize>,
) -> Result<Tensor> {
    let causal = window_to_causal(q, k, window_size_left, window_size_right)?;
    flash_attn(q, k, v, softmax_scale, causal)
}

/// ALiBi biases are not supported yet: returns an error naming the feature.
pub fn flash_attn_alibi(
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _alibi_slopes: &Tensor,
    _softmax_scale: f32,
    _causal: bool,
) -> Result<Tensor> {
    unsupported("ALiBi (flash_attn_alibi)")
}

/// ALiBi biases are not supported yet: returns an error naming the feature.
pub fn flash_attn_alibi_windowed(
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _alibi_slopes: &Tensor,
    _softmax_scale: f32,
    _window_size_left: Option<usize>,
    _window_size_right: Option<usize>,
) -> Result<Tensor> {
    unsupported("ALiBi (flash_attn_alibi_windowed)")
}

/// Softcap (and ALiBi) are not supported yet: returns an error naming the feature.
#[allow(clippy::too_many_arguments)]
pub fn flash_attn_alibi_windowed_softcap(
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _alibi_slopes: Option<&Tensor>,
    _softmax_scale: f32,
    _window_size_left: Option<usize>,
    _window_size_right: Option<usize>,
    _softcap: f32,
) -> Result<Tensor> {
    unsupported("logit softcap (flash_attn_alibi_windowed_softcap)")
}

/// Variable-length batches are not supported yet: returns an error naming the feature.
#[allow(clippy::too_many_arguments)]
pub fn flash_attn_varlen(
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _seqlens_q: &Tensor,
    _seqlens_k: &Tensor,
    _max_seqlen_q: usize,
    _max_seqlen_k: usize,
    _softmax_scale: f32,
    _causal: bool,
) -> Result<Tensor> {
    unsupported("variable-length batches (flash_attn_varlen)")
}

/// Variable-length batches are not supported yet: returns an error naming the feature.
#[allow(clippy::too_many_arguments)]
pub fn flash_attn_varlen_windowed(
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _seqlens_q: &Tensor,
    _seqlens_k: &Tensor,
    _max_seqlen_q: usize,
    _max_seqlen_k: usize,
    _softmax_scale: f32,
    _window_size_left: Option<usize>,
    _window_size_right: Option<usize>,
) -> Result<Tensor> {
    unsupported("variable-length batches (flash_attn_varlen_windowed)")
}

/// Paged KV caches are not supported yet: returns an error naming the feature.
#[allow(clippy::too_many_arguments)]
pub fn flash_attn_varlen_paged_windowed(
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _seqlens_q: &Tensor,
    _seqlens_k: &Tensor,
    _block_table: &Tensor,
    _mm_prefix_ranges: Option<&Tensor>,
    _max_seqlen_q: usize,
    _max_seqlen_k: usize,
    _softmax_scale: f32,
    _window_size_left: Option<usize>,
    _window_size_right: Option<usize>,
    _page_block_size: usize,
    _softcap: Option<f32>,
) -> Result<Tensor> {
    unsupported("paged KV caches (flash_attn_varlen_paged_windowed)")
}

/// Variable-length batches and ALiBi are not supported yet: returns an error naming them.
#[allow(clippy::too_many_arguments)]
pub fn flash_attn_varlen_alibi(
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _alibi_slopes: &Tensor,
    _seqlens_q: &Tensor,
    _seqlens_k: &Tensor,
    _max_seqlen_q: usize,
    _max_seqlen_k: usize,
    _softmax_scale: f32,
    _causal: bool,
) -> Result<Tensor> {
    unsupported("variable-length batches with ALiBi (flash_attn_varlen_alibi)")
}

/// Variable-length batches and ALiBi are not supported yet: returns an error naming them.
#[allow(clippy::too_many_arguments)]
pub fn flash_attn_varlen_alibi_windowed(
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _alibi_slopes: &Tensor,
    _seqlens_q: &Tensor,
    _seqlens_k: &Tensor,
    _max_seqlen_q: usize,
    _max_seqlen_k: usize,
    _softmax_scale: f32,
    _window_size_left: Option<usize>,
    _window_size_right: Option<usize>,
) -> Result<Tensor> {
    unsupported("variable-length batches with ALiBi (flash_attn_varlen_alibi_windowed)")
}

/// Variable-length batches, ALiBi and softcap are not supported yet: returns an error.
#[allow(clippy::too_many_arguments)]
pub fn flash_attn_varlen_alibi_windowed_softcap(
    _q: &Tensor,
    _k: &Tensor,
    _v: &Tensor,
    _alibi_slopes: Option<&Tensor>,
    _seqlens_q: &Tensor,
    _seqlens_k: &Tensor,
    _max_seqlen_q: usize,
    _max_seqlen_k: usize,
    _softmax_scale: f32,
    _window_size_left: Option<usize>,
    _window_size_right: Option<usize>,
    _softcap: f32,
) -> Result<Tensor> {
    unsupported("variable-length batches with softcap (flash_attn_varlen_alibi_windowed_softcap)")
}

/// Standard attention from candle's own operations, the oracle of this crate's tests, example
/// and benchmark: scores materialized (matmul), softmax, matmul, in f32, with k/v heads
/// repeated for GQA, and the same bottom-right causal mask as `flash_attn`.
pub mod reference {
    use super::*;

    /// `(batch, seq, heads, head_dim)` in, f32 `(batch, seq_q, heads_q, head_dim)` out. A causal
    /// row that sees no key gives NaN here (flash_attn gives 0).
    pub fn naive_attention(q: &Tensor, k: &Tensor, v: &Tensor, softmax_scale: f32, causal: bool) -> Result<Tensor> {
        let (b, sq, hq, d) = q.dims4()?;
        let (_, sk, hk, _) = k.dims4()?;
        let group = hq / hk;
        let repeat = |t: &Tensor| -> Result<Tensor> {
            let t = t.to_dtype(DType::F32)?.transpose(1, 2)?; // (b, hk, sk, d)
            t.unsqueeze(2)?.expand((b, hk, group, sk, d))?.reshape((b, hq, sk, d))
        };
        let q = q.to_dtype(DType::F32)?.transpose(1, 2)?.contiguous()?;
        let (k, v) = (repeat(k)?, repeat(v)?);
        let mut s = (q.matmul(&k.t()?.contiguous()?)? * softmax_scale as f64)?;
        if causal {
            let mask: Vec<f32> = (0..sq)
                .flat_map(|i| (0..sk).map(move |j| if j + sq > i + sk { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            s = s.broadcast_add(&Tensor::from_vec(mask, (sq, sk), q.device())?)?;
        }
        let m = s.max_keepdim(D::Minus1)?;
        let e = s.broadcast_sub(&m)?.exp()?;
        let p = e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?;
        p.matmul(&v.contiguous()?)?.transpose(1, 2)
    }
}
