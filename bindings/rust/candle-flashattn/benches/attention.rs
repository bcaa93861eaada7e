//! flash_attn vs candle's naive attention (matmul, softmax, matmul), batch 2, 16 heads,
//! head_dim 64, seq 2048, f16, causal: on the CPU, and on the GPU with the `cuda` feature.
//! Criterion reports the medians; a summary line per device gives the speedup and the peak
//! memory each allocates: from a counting global allocator on the CPU, and from the device's
//! default memory pool (its used-memory high-water mark) on the GPU, where both candle and
//! flashattn allocate stream-ordered.
//!
//!     cargo bench --bench attention [--features cuda]
use candle_core::{DType, Device, Result, Tensor};
use candle_flashattn::{flash_attn, reference::naive_attention};
use criterion::{criterion_group, criterion_main, Criterion};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live host bytes and their peak, so a call's extra memory can be read around it.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const B: usize = 2;
const H: usize = 16;
const D: usize = 64;
const SEQ: usize = 2048;

fn inputs(dev: &Device) -> Result<(Tensor, Tensor, Tensor)> {
    let t = || Tensor::randn(0f32, 1f32, (B, SEQ, H, D), dev)?.to_dtype(DType::F16);
    Ok((t()?, t()?, t()?))
}

/// One call, finished (device work included).
fn flash(q: &Tensor, k: &Tensor, v: &Tensor) -> Tensor {
    let out = flash_attn(q, k, v, 0.125, true).expect("flash_attn");
    q.device().synchronize().expect("synchronize");
    out
}

fn naive(q: &Tensor, k: &Tensor, v: &Tensor) -> Tensor {
    let out = naive_attention(q, k, v, 0.125, true).and_then(|o| o.to_dtype(DType::F16)).expect("naive");
    q.device().synchronize().expect("synchronize");
    out
}

/// Peak bytes a call allocates beyond what was live before it, on the tensors' device.
fn peak_extra(dev: &Device, f: impl FnOnce() -> Tensor) -> usize {
    match dev {
        #[cfg(feature = "cuda")]
        Device::Cuda(d) => gpu::peak_extra(d, f),
        _ => {
            let base = LIVE.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            let out = f();
            let peak = PEAK.load(Ordering::Relaxed) - base;
            drop(out);
            peak
        }
    }
}

#[cfg(feature = "cuda")]
mod gpu {
    use candle_core::cuda_backend::cudarc::driver::sys;
    use candle_core::{CudaDevice, Tensor};
    use std::ffi::c_void;

    fn pool(dev: &CudaDevice) -> sys::CUmemoryPool {
        let mut pool = std::ptr::null_mut();
        // SAFETY: a valid device handle and an out-pointer.
        let r = unsafe { sys::cuDeviceGetDefaultMemPool(&mut pool, dev.cuda_stream().context().cu_device()) };
        assert_eq!(r, sys::CUresult::CUDA_SUCCESS, "cuDeviceGetDefaultMemPool");
        pool
    }

    fn attribute(pool: sys::CUmemoryPool, attr: sys::CUmemPool_attribute) -> u64 {
        let mut v = 0u64;
        // SAFETY: the used-memory attributes are 64-bit values.
        unsafe { sys::cuMemPoolGetAttribute(pool, attr, &mut v as *mut u64 as *mut c_void) };
        v
    }

    pub fn peak_extra(dev: &CudaDevice, f: impl FnOnce() -> Tensor) -> usize {
        let pool = pool(dev);
        let base = attribute(pool, sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_CURRENT);
        let mut zero = 0u64; // resets the high-water mark to the current use
        // SAFETY: as above.
        unsafe {
            sys::cuMemPoolSetAttribute(
                pool,
                sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH,
                &mut zero as *mut u64 as *mut c_void,
            )
        };
        let out = f();
        let high = attribute(pool, sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH);
        drop(out);
        high.saturating_sub(base) as usize
    }
}

fn median_ms(f: impl Fn() -> Tensor) -> f64 {
    let mut t: Vec<f64> = (0..5)
        .map(|_| {
            let s = Instant::now();
            drop(f());
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[2]
}

fn bench_on(c: &mut Criterion, dev: &Device, name: &str) {
    let (q, k, v) = inputs(dev).expect("inputs");
    drop(flash(&q, &k, &v)); // warm-up: module loads, handles
    drop(naive(&q, &k, &v));
    let mut g = c.benchmark_group(format!("attention b{B} h{H} d{D} seq{SEQ} f16 causal {name}"));
    g.sample_size(10);
    g.bench_function("flash_attn", |b| b.iter(|| flash(&q, &k, &v)));
    g.bench_function("naive", |b| b.iter(|| naive(&q, &k, &v)));
    g.finish();

    let (tf, tn) = (median_ms(|| flash(&q, &k, &v)), median_ms(|| naive(&q, &k, &v)));
    let (mf, mn) = (peak_extra(dev, || flash(&q, &k, &v)), peak_extra(dev, || naive(&q, &k, &v)));
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!(
        "summary {name}: flash_attn {tf:.2} ms, naive {tn:.2} ms (median of 5), speedup {:.2}x; \
         peak extra memory flash {:.1} MiB, naive {:.1} MiB, reduction {:.1}x",
        tn / tf,
        mib(mf),
        mib(mn),
        mn as f64 / mf.max(1) as f64
    );
}

fn bench(c: &mut Criterion) {
    bench_on(c, &Device::Cpu, "cpu");
    #[cfg(feature = "cuda")]
    bench_on(c, &Device::new_cuda(0).expect("the cuda feature's bench needs a CUDA device"), "cuda");
}

criterion_group!(benches, bench);
criterion_main!(benches);
