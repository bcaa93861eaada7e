//! candle-flashattn against candle's own naive attention (matmul, softmax, matmul) on fresh
//! random inputs, on the CPU: prefill, Llama-style decode against a concatenated KV cache,
//! GQA, transposed views, all three dtypes, and gradients through candle's autograd.
use candle_core::{DType, Device, Result, Tensor, Var};
use candle_flashattn::reference::naive_attention as naive;
use candle_flashattn::{flash_attn, flash_attn_alibi, flash_attn_varlen, flash_attn_windowed};

fn rel_err(a: &Tensor, b: &Tensor) -> Result<f32> {
    let (a, b) = (a.to_dtype(DType::F32)?, b.to_dtype(DType::F32)?);
    let num = (&a - &b)?.sqr()?.sum_all()?.to_scalar::<f32>()?;
    let den = b.sqr()?.sum_all()?.to_scalar::<f32>()?;
    Ok((num / den.max(1e-30)).sqrt())
}

fn tolerance(dt: DType) -> f32 {
    match dt {
        DType::F32 => 1e-4,
        DType::F16 => 2e-3,
        _ => 1.5e-2,
    }
}

fn randn(shape: (usize, usize, usize, usize), dt: DType) -> Result<Tensor> {
    Tensor::randn(0f32, 1f32, shape, &Device::Cpu)?.to_dtype(dt)
}

#[test]
fn prefill_matches_naive() -> Result<()> {
    for dt in [DType::F32, DType::F16, DType::BF16] {
        for seq in [1usize, 7, 64, 129, 1000] {
            for causal in [false, true] {
                let (q, k, v) = (randn((2, seq, 4, 64), dt)?, randn((2, seq, 4, 64), dt)?, randn((2, seq, 4, 64), dt)?);
                let scale = 0.125;
                let out = flash_attn(&q, &k, &v, scale, causal)?;
                assert_eq!(out.dims4()?, (2, seq, 4, 64));
                assert_eq!(out.dtype(), dt);
                let err = rel_err(&out, &naive(&q, &k, &v, scale, causal)?)?;
                assert!(err < tolerance(dt), "{dt:?} seq {seq} causal {causal}: rel err {err}");
            }
        }
    }
    Ok(())
}

#[test]
fn decode_against_a_concatenated_kv_cache() -> Result<()> {
    // As a Llama worker decodes: a prefill fills the cache, then each step appends one token's
    // k/v by concatenation and attends with seq_q = 1 (causal, bottom-right: sees everything).
    for dt in [DType::F32, DType::BF16] {
        let (b, hq, hk, d) = (2, 8, 2, 64);
        let mut k_cache = randn((b, 37, hk, d), dt)?;
        let mut v_cache = randn((b, 37, hk, d), dt)?;
        for step in 0..4 {
            k_cache = Tensor::cat(&[&k_cache, &randn((b, 1, hk, d), dt)?], 1)?;
            v_cache = Tensor::cat(&[&v_cache, &randn((b, 1, hk, d), dt)?], 1)?;
            let q = randn((b, 1, hq, d), dt)?;
            let out = flash_attn(&q, &k_cache, &v_cache, 0.125, true)?;
            let err = rel_err(&out, &naive(&q, &k_cache, &v_cache, 0.125, false)?)?;
            assert!(err < tolerance(dt), "{dt:?} step {step}: rel err {err}");
        }
    }
    Ok(())
}

#[test]
fn gqa_and_unequal_lengths() -> Result<()> {
    for (hq, hk) in [(8, 1), (8, 2), (8, 8)] {
        for (sq, sk) in [(33, 70), (70, 33)] {
            let q = randn((1, sq, hq, 32), DType::F32)?;
            let (k, v) = (randn((1, sk, hk, 32), DType::F32)?, randn((1, sk, hk, 32), DType::F32)?);
            // causal only where every query row sees a key (sq <= sk): the naive softmax of an
            // empty row is NaN, flashattn's is 0 (checked in the C suite).
            let causal = sq <= sk;
            let err = rel_err(&flash_attn(&q, &k, &v, 0.2, causal)?, &naive(&q, &k, &v, 0.2, causal)?)?;
            assert!(err < 1e-4, "heads {hq}/{hk} seq {sq}/{sk}: rel err {err}");
        }
    }
    Ok(())
}

#[test]
fn transposed_views_need_no_copy() -> Result<()> {
    // Llama computes q, k, v as (b, h, s, d) and passes their transposed views.
    let bhsd = |h| Tensor::randn(0f32, 1f32, (2, h, 50, 64), &Device::Cpu);
    let (q, k, v) = (bhsd(8)?.transpose(1, 2)?, bhsd(4)?.transpose(1, 2)?, bhsd(4)?.transpose(1, 2)?);
    assert!(!q.is_contiguous());
    let out = flash_attn(&q, &k, &v, 0.125, true)?;
    let err = rel_err(&out, &naive(&q.contiguous()?, &k.contiguous()?, &v.contiguous()?, 0.125, true)?)?;
    assert!(err < 1e-4, "rel err {err}");
    Ok(())
}

#[test]
fn gradients_match_the_naive_path() -> Result<()> {
    for causal in [false, true] {
        let var = |s, h| Var::from_tensor(&Tensor::randn(0f32, 1f32, (2, s, h, 32), &Device::Cpu)?);
        let (q, k, v) = (var(45, 4)?, var(60, 2)?, var(60, 2)?);
        let r = Tensor::randn(0f32, 1f32, (2, 45, 4, 32), &Device::Cpu)?;
        let flash = (flash_attn(&q, &k, &v, 0.17, causal)? * &r)?.sum_all()?.backward()?;
        let naive_grads = (naive(&q, &k, &v, 0.17, causal)? * &r)?.sum_all()?.backward()?;
        for (name, t) in [("q", &q), ("k", &k), ("v", &v)] {
            let g = flash.get(t).expect("flash gradient");
            let n = naive_grads.get(t).expect("naive gradient");
            let err = rel_err(g, n)?;
            assert!(err < 1e-4, "causal {causal} d{name}: rel err {err}");
        }
    }
    Ok(())
}

#[test]
fn half_precision_gradients() -> Result<()> {
    for dt in [DType::F16, DType::BF16] {
        let var = |s| Var::from_tensor(&randn((1, s, 2, 64), dt)?);
        let (q, k, v) = (var(40)?, var(40)?, var(40)?);
        let r = randn((1, 40, 2, 64), dt)?;
        let flash = (flash_attn(&q, &k, &v, 0.125, true)? * &r)?.sum_all()?.backward()?;
        // The reference: the same inputs in f32 through the naive path.
        let (qf, kf, vf) = (
            Var::from_tensor(&q.to_dtype(DType::F32)?)?,
            Var::from_tensor(&k.to_dtype(DType::F32)?)?,
            Var::from_tensor(&v.to_dtype(DType::F32)?)?,
        );
        let naive_grads =
            (naive(&qf, &kf, &vf, 0.125, true)? * r.to_dtype(DType::F32)?)?.sum_all()?.backward()?;
        for (t, tf) in [(&q, &qf), (&k, &kf), (&v, &vf)] {
            let err = rel_err(flash.get(t).unwrap(), naive_grads.get(tf).unwrap())?;
            assert!(err < 2.0 * tolerance(dt), "{dt:?}: rel err {err}");
        }
    }
    Ok(())
}

#[test]
fn windows_map_to_full_and_causal_and_refuse_the_rest() -> Result<()> {
    let (q, k, v) = (randn((1, 20, 2, 32), DType::F32)?, randn((1, 20, 2, 32), DType::F32)?, randn((1, 20, 2, 32), DType::F32)?);
    let causal = flash_attn(&q, &k, &v, 0.3, true)?;
    let windowed = flash_attn_windowed(&q, &k, &v, 0.3, None, Some(0))?;
    assert_eq!(rel_err(&windowed, &causal)?, 0.0);
    let full = flash_attn(&q, &k, &v, 0.3, false)?;
    assert_eq!(rel_err(&flash_attn_windowed(&q, &k, &v, 0.3, None, None)?, &full)?, 0.0);
    let err = flash_attn_windowed(&q, &k, &v, 0.3, Some(4), Some(0)).unwrap_err().to_string();
    assert!(err.contains("sliding-window"), "{err}");
    Ok(())
}

#[test]
fn unsupported_features_and_bad_inputs_are_errors() -> Result<()> {
    let q = randn((1, 8, 2, 32), DType::F32)?;
    let slopes = Tensor::zeros(2, DType::F32, &Device::Cpu)?;
    let err = flash_attn_alibi(&q, &q, &q, &slopes, 0.2, true).unwrap_err().to_string();
    assert!(err.contains("ALiBi"), "{err}");
    let lens = Tensor::new(&[0u32, 8], &Device::Cpu)?;
    let err = flash_attn_varlen(&q, &q, &q, &lens, &lens, 8, 8, 0.2, true).unwrap_err().to_string();
    assert!(err.contains("variable-length"), "{err}");
    // Mismatched dtypes, ranks and GQA ratios are errors too, never panics.
    assert!(flash_attn(&q, &q.to_dtype(DType::F16)?, &q, 0.2, false).is_err());
    assert!(flash_attn(&q.squeeze(0)?, &q.squeeze(0)?, &q.squeeze(0)?, 0.2, false).is_err());
    let k3 = randn((1, 8, 3, 32), DType::F32)?;
    let err = flash_attn(&q, &k3, &k3, 0.2, false).unwrap_err().to_string();
    assert!(err.contains("num_heads_q"), "{err}");
    Ok(())
}

/// The same checks on a CUDA device (feature `cuda`): flash on the GPU against the naive path
/// on the CPU, forward and gradients, strided views and a decode step.
#[cfg(feature = "cuda")]
mod cuda {
    use super::*;

    fn gpu() -> Device {
        Device::new_cuda(0).expect("the cuda feature's tests need a CUDA device")
    }

    #[test]
    fn forward_matches_naive_on_the_gpu() -> Result<()> {
        let dev = gpu();
        for dt in [DType::F16, DType::BF16, DType::F32] {
            for (sq, sk, causal) in [(129, 129, true), (1, 300, true), (77, 40, false)] {
                let (q, k, v) = (randn((2, sq, 8, 64), dt)?, randn((2, sk, 2, 64), dt)?, randn((2, sk, 2, 64), dt)?);
                let out = flash_attn(&q.to_device(&dev)?, &k.to_device(&dev)?, &v.to_device(&dev)?, 0.125, causal)?;
                assert_eq!(out.dtype(), dt);
                let err = rel_err(&out.to_device(&Device::Cpu)?, &naive(&q, &k, &v, 0.125, causal)?)?;
                let tol = if dt == DType::F32 { 3e-3 } else { tolerance(dt) };
                assert!(err < tol, "{dt:?} {sq}x{sk} causal {causal}: rel err {err}");
            }
        }
        Ok(())
    }

    #[test]
    fn transposed_views_on_the_gpu() -> Result<()> {
        let dev = gpu();
        let bhsd = |h| Tensor::randn(0f32, 1f32, (2, h, 50, 64), &dev)?.to_dtype(DType::BF16);
        let (q, k, v) = (bhsd(8)?.transpose(1, 2)?, bhsd(4)?.transpose(1, 2)?, bhsd(4)?.transpose(1, 2)?);
        let out = flash_attn(&q, &k, &v, 0.125, true)?.to_device(&Device::Cpu)?;
        let cpu = |t: &Tensor| t.to_device(&Device::Cpu)?.contiguous();
        let err = rel_err(&out, &naive(&cpu(&q)?, &cpu(&k)?, &cpu(&v)?, 0.125, true)?)?;
        assert!(err < tolerance(DType::BF16), "rel err {err}");
        Ok(())
    }

    #[test]
    fn gradients_on_the_gpu() -> Result<()> {
        let dev = gpu();
        let host = |s, h| Tensor::randn(0f32, 1f32, (1, s, h, 64), &Device::Cpu)?.to_dtype(DType::F16);
        let (qh, kh, vh) = (host(70, 4)?, host(90, 2)?, host(90, 2)?);
        let r = Tensor::randn(0f32, 1f32, (1, 70, 4, 64), &Device::Cpu)?;
        let (q, k, v) = (Var::from_tensor(&qh.to_device(&dev)?)?, Var::from_tensor(&kh.to_device(&dev)?)?, Var::from_tensor(&vh.to_device(&dev)?)?);
        let grads = (flash_attn(&q, &k, &v, 0.125, true)?.to_dtype(DType::F32)? * r.to_device(&dev)?)?.sum_all()?.backward()?;
        let (qf, kf, vf) = (Var::from_tensor(&qh.to_dtype(DType::F32)?)?, Var::from_tensor(&kh.to_dtype(DType::F32)?)?, Var::from_tensor(&vh.to_dtype(DType::F32)?)?);
        let reference = (naive(&qf, &kf, &vf, 0.125, true)? * &r)?.sum_all()?.backward()?;
        for (t, tf) in [(&q, &qf), (&k, &kf), (&v, &vf)] {
            let g = grads.get(t).expect("gradient").to_device(&Device::Cpu)?;
            let err = rel_err(&g, reference.get(tf).expect("reference gradient"))?;
            assert!(err < 1e-2, "rel err {err}");
        }
        Ok(())
    }
}
