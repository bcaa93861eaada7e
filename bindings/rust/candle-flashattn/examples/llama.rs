//! A tiny Llama-style decoder (random weights made here: RMSNorm, RoPE, GQA attention with a KV
//! cache grown by concatenation, SwiGLU MLP) that generates tokens greedily with flashattn for
//! prefill and decode, and checks its logits against the same model with naive attention at
//! every step. Exits non-zero on a mismatch.
//!
//!     cargo run --release --example llama [-- dtype]   (dtype: f32 (default), f16, bf16)
use candle_core::{DType, Device, Result, Tensor, D};
use candle_flashattn::{flash_attn, reference::naive_attention};

const VOCAB: usize = 256;
const HIDDEN: usize = 128;
const HEADS: usize = 8;
const KV_HEADS: usize = 2;
const HEAD_DIM: usize = HIDDEN / HEADS;
const LAYERS: usize = 2;
const MLP: usize = 256;
const ROPE_THETA: f32 = 10000.0;

struct Layer {
    attn_norm: Tensor,
    wq: Tensor,
    wk: Tensor,
    wv: Tensor,
    wo: Tensor,
    mlp_norm: Tensor,
    w_gate: Tensor,
    w_up: Tensor,
    w_down: Tensor,
}

struct Model {
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Tensor,
}

fn weight(rows: usize, cols: usize, dt: DType) -> Result<Tensor> {
    (Tensor::randn(0f32, 1f32, (rows, cols), &Device::Cpu)? / (rows as f64).sqrt())?.to_dtype(dt)
}

impl Model {
    fn random(dt: DType) -> Result<Self> {
        let ones = Tensor::ones(HIDDEN, dt, &Device::Cpu)?;
        let layers = (0..LAYERS)
            .map(|_| {
                Ok(Layer {
                    attn_norm: ones.clone(),
                    wq: weight(HIDDEN, HEADS * HEAD_DIM, dt)?,
                    wk: weight(HIDDEN, KV_HEADS * HEAD_DIM, dt)?,
                    wv: weight(HIDDEN, KV_HEADS * HEAD_DIM, dt)?,
                    wo: weight(HEADS * HEAD_DIM, HIDDEN, dt)?,
                    mlp_norm: ones.clone(),
                    w_gate: weight(HIDDEN, MLP, dt)?,
                    w_up: weight(HIDDEN, MLP, dt)?,
                    w_down: weight(MLP, HIDDEN, dt)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            embed: weight(VOCAB, HIDDEN, dt)?.affine((HIDDEN as f64).sqrt(), 0.0)?,
            layers,
            norm: ones,
            lm_head: weight(HIDDEN, VOCAB, dt)?,
        })
    }
}

fn rms_norm(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dt = x.dtype();
    let x = x.to_dtype(DType::F32)?;
    let rms = (x.sqr()?.mean_keepdim(D::Minus1)? + 1e-5)?.sqrt()?;
    x.broadcast_div(&rms)?.to_dtype(dt)?.broadcast_mul(w)
}

/// Rotary embedding (rotate-half form) of `(batch, seq, heads, head_dim)` at positions
/// `start..start + seq`.
fn rope(x: &Tensor, start: usize) -> Result<Tensor> {
    let (_, seq, _, d) = x.dims4()?;
    let half = d / 2;
    let inv: Vec<f32> = (0..half).map(|i| ROPE_THETA.powf(-((2 * i) as f32) / d as f32)).collect();
    let angles: Vec<f32> =
        (start..start + seq).flat_map(|p| inv.iter().map(move |f| p as f32 * f)).collect();
    let angles = Tensor::from_vec(angles, (1, seq, 1, half), x.device())?;
    let (cos, sin) = (angles.cos()?.to_dtype(x.dtype())?, angles.sin()?.to_dtype(x.dtype())?);
    let (x1, x2) = (x.narrow(D::Minus1, 0, half)?, x.narrow(D::Minus1, half, half)?);
    let r1 = (x1.broadcast_mul(&cos)? - x2.broadcast_mul(&sin)?)?;
    let r2 = (x1.broadcast_mul(&sin)? + x2.broadcast_mul(&cos)?)?;
    Tensor::cat(&[&r1, &r2], D::Minus1)
}

/// Per-layer (k, v) caches, `(batch, seq_so_far, kv_heads, head_dim)`.
type Cache = Vec<Option<(Tensor, Tensor)>>;

/// Logits of the last position after running `tokens` at positions `start..`.
fn forward(m: &Model, tokens: &[u32], start: usize, cache: &mut Cache, flash: bool) -> Result<Tensor> {
    let seq = tokens.len();
    let ids = Tensor::new(tokens, &Device::Cpu)?;
    let mut x = m.embed.index_select(&ids, 0)?.unsqueeze(0)?; // (1, seq, hidden)
    let scale = 1.0 / (HEAD_DIM as f32).sqrt();
    for (layer, slot) in m.layers.iter().zip(cache.iter_mut()) {
        let h = rms_norm(&x, &layer.attn_norm)?;
        let proj = |w: &Tensor, heads| h.broadcast_matmul(w)?.reshape((1, seq, heads, HEAD_DIM));
        let q = rope(&proj(&layer.wq, HEADS)?, start)?;
        let k = rope(&proj(&layer.wk, KV_HEADS)?, start)?;
        let v = proj(&layer.wv, KV_HEADS)?;
        let (k, v) = match slot.take() {
            Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 1)?, Tensor::cat(&[&pv, &v], 1)?),
            None => (k, v),
        };
        *slot = Some((k.clone(), v.clone()));
        // Causal, bottom-right: a decode step (seq 1) sees the whole cache.
        let attn = if flash {
            flash_attn(&q, &k, &v, scale, true)?
        } else {
            naive_attention(&q, &k, &v, scale, true)?.to_dtype(q.dtype())?
        };
        x = (x + attn.reshape((1, seq, HIDDEN))?.broadcast_matmul(&layer.wo)?)?;
        let h = rms_norm(&x, &layer.mlp_norm)?;
        let gate = h.broadcast_matmul(&layer.w_gate)?.silu()?;
        x = (x + (gate * h.broadcast_matmul(&layer.w_up)?)?.broadcast_matmul(&layer.w_down)?)?;
    }
    let last = rms_norm(&x, &m.norm)?.narrow(1, seq - 1, 1)?;
    last.broadcast_matmul(&m.lm_head)?.flatten_all()?.to_dtype(DType::F32)
}

fn main() -> Result<()> {
    let dt = match std::env::args().nth(1).as_deref() {
        Some("f16") => DType::F16,
        Some("bf16") => DType::BF16,
        _ => DType::F32,
    };
    let tolerance = match dt {
        DType::F32 => 1e-3,
        DType::F16 => 3e-2,
        _ => 2e-1,
    };
    let model = Model::random(dt)?;
    let prompt: Vec<u32> = vec![1, 17, 42, 99, 7, 3, 250, 128, 64, 5];
    let (mut flash_cache, mut naive_cache): (Cache, Cache) = (vec![None; LAYERS], vec![None; LAYERS]);
    let mut tokens = prompt.clone();
    let (mut chunk, mut start, mut worst) = (prompt.clone(), 0usize, 0f32);
    println!("tiny Llama ({LAYERS} layers, {HEADS} query / {KV_HEADS} kv heads, head_dim {HEAD_DIM}, {dt:?})");
    for step in 0..12 {
        let lf = forward(&model, &chunk, start, &mut flash_cache, true)?;
        let ln = forward(&model, &chunk, start, &mut naive_cache, false)?;
        let diff = (&lf - &ln)?.abs()?.max_all()?.to_scalar::<f32>()?;
        let scale = ln.abs()?.max_all()?.to_scalar::<f32>()?;
        worst = worst.max(diff / scale);
        let next = lf.argmax(0)?.to_scalar::<u32>()?;
        println!(
            "{} step {step:2}: {} tokens attended, next token {next:3}, max |flash - naive| logit {diff:.2e} (relative {:.2e})",
            if step == 0 { "prefill" } else { "decode " },
            start + chunk.len(),
            diff / scale
        );
        if diff / scale > tolerance {
            eprintln!("logits differ beyond {tolerance:e}");
            std::process::exit(1);
        }
        start += chunk.len();
        tokens.push(next);
        chunk = vec![next];
    }
    println!("generated {:?}; worst relative logit difference {worst:.2e} (tolerance {tolerance:e})", &tokens[prompt.len()..]);
    Ok(())
}
