//! flash_attn vs candle's naive attention (matmul, softmax, matmul), batch 2, 16 heads,
//! head_dim 64, seq 2048, f16, causal, on the CPU (and on the GPU with the `cuda` feature once
//! the candle CUDA path is wired). Criterion reports the medians; a summary line gives the
//! speedup and the peak memory each allocates, from a counting global allocator.
//!
//!     cargo bench --bench attention
use candle_core::{DType, Device, Result, Tensor};
use candle_flashattn::{flash_attn, reference::naive_attention};
use criterion::{criterion_group, criterion_main, Criterion};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live bytes and their peak, so a call's extra memory can be read around it.
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

fn inputs() -> Result<(Tensor, Tensor, Tensor)> {
    let t = || Tensor::randn(0f32, 1f32, (B, SEQ, H, D), &Device::Cpu)?.to_dtype(DType::F16);
    Ok((t()?, t()?, t()?))
}

fn flash(q: &Tensor, k: &Tensor, v: &Tensor) -> Tensor {
    flash_attn(q, k, v, 0.125, true).expect("flash_attn")
}

fn naive(q: &Tensor, k: &Tensor, v: &Tensor) -> Tensor {
    naive_attention(q, k, v, 0.125, true).and_then(|o| o.to_dtype(DType::F16)).expect("naive")
}

/// Peak bytes allocated during one call beyond what was live before it.
fn peak_extra(f: impl FnOnce() -> Tensor) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    drop(out);
    peak
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

fn bench(c: &mut Criterion) {
    let (q, k, v) = inputs().expect("inputs");
    let mut g = c.benchmark_group(format!("attention b{B} h{H} d{D} seq{SEQ} f16 causal cpu"));
    g.sample_size(10);
    g.bench_function("flash_attn", |b| b.iter(|| flash(&q, &k, &v)));
    g.bench_function("naive", |b| b.iter(|| naive(&q, &k, &v)));
    g.finish();

    let (tf, tn) = (median_ms(|| flash(&q, &k, &v)), median_ms(|| naive(&q, &k, &v)));
    let (mf, mn) = (peak_extra(|| flash(&q, &k, &v)), peak_extra(|| naive(&q, &k, &v)));
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!(
        "summary: flash_attn {tf:.1} ms, naive {tn:.1} ms (median of 5), speedup {:.2}x; \
         peak extra memory flash {:.1} MiB, naive {:.1} MiB, reduction {:.1}x",
        tn / tf,
        mib(mf),
        mib(mn),
        mn as f64 / mf.max(1) as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
