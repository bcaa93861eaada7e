#!/usr/bin/env python3
"""flashattn vs PyTorch's attention backends, side by side in one process, on the same inputs.

flashattn runs through its C ABI (ctypes over torch tensors, on torch's current stream). PyTorch
runs scaled_dot_product_attention with one backend forced at a time (FLASH, CUDNN, EFFICIENT),
and standard attention (matmul, softmax in f32, matmul). flashattn's forward is also timed with
its sm_80 kernels forced (FLASHATTN_DISABLE_SM90=1). Forward and backward, timed with CUDA
events (triton.testing.do_bench, median); the forwards of flashattn and the SDPA backends twice
per cell, in opposite orders, each keeping its better time. FLOPs: 4*B*H*N*N*D, halved for
causal; backward 2.5x forward. Shapes of the FlashAttention papers: 16k tokens (B = 16384 / N),
hidden 2048 (H = 2048 / D). Causal cases use seqlen_q == seqlen_k, where PyTorch's top-left
causal mask and flashattn's bottom-right one coincide.

usage: compare_torch.py --lib build/libflashattn.so [--out DIR] [--dtypes f16,bf16]
                        [--seqlens 512,1024,...] [--head-dims 64,128,256] [--quick]
"""
import argparse
import ctypes
import json
import math
import os
import sys

# PyTorch (and triton) are imported by load_torch(), so --replot works on machines without them.
torch = F = do_bench = None
SDPA = {}
DTYPES = {}


def load_torch():
    global torch, F, do_bench
    import torch as torch_module
    import torch.nn.functional as functional
    from torch.nn.attention import SDPBackend

    torch, F = torch_module, functional
    try:
        from triton.testing import do_bench as triton_do_bench
        do_bench = triton_do_bench
    except ImportError:  # the GPU machine has triton; fall back to CUDA events elsewhere
        do_bench = None
    SDPA.update({"FLASH": SDPBackend.FLASH_ATTENTION, "CUDNN": SDPBackend.CUDNN_ATTENTION,
                 "EFFICIENT": SDPBackend.EFFICIENT_ATTENTION})
    DTYPES.update({"f16": (torch.float16, 0), "bf16": (torch.bfloat16, 1),
                   "f32": (torch.float32, 2)})


class Strides(ctypes.Structure):
    _fields_ = [("batch", ctypes.c_int64), ("seq", ctypes.c_int64), ("head", ctypes.c_int64),
                ("dim", ctypes.c_int64)]


def _tensor_fields(names):
    out = []
    for n in names:
        out += [(n, ctypes.c_void_p), (n + "_strides", Strides)]
    return out


_SHAPE = [("struct_size", ctypes.c_size_t), ("dtype", ctypes.c_int32), ("causal", ctypes.c_int32),
          ("batch", ctypes.c_int64), ("seqlen_q", ctypes.c_int64), ("seqlen_k", ctypes.c_int64),
          ("num_heads_q", ctypes.c_int64), ("num_heads_k", ctypes.c_int64),
          ("head_dim", ctypes.c_int64), ("softmax_scale", ctypes.c_float)]


class ForwardArgs(ctypes.Structure):
    _fields_ = _SHAPE + _tensor_fields(["q", "k", "v", "out"]) + [
        ("lse", ctypes.c_void_p), ("workspace", ctypes.c_void_p),
        ("workspace_size", ctypes.c_size_t), ("stream", ctypes.c_void_p)]


class BackwardArgs(ctypes.Structure):
    _fields_ = _SHAPE + [("deterministic", ctypes.c_int32)] + _tensor_fields(
        ["dout", "q", "k", "v", "out"]) + [("lse", ctypes.c_void_p)] + _tensor_fields(
        ["dq", "dk", "dv"]) + [("workspace", ctypes.c_void_p), ("workspace_size", ctypes.c_size_t),
                               ("stream", ctypes.c_void_p)]


class FlashAttn:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.flash_attn_last_error.restype = ctypes.c_char_p
        for f in ("flash_attn_fwd", "flash_attn_bwd"):
            getattr(self.lib, f).restype = ctypes.c_int
        self.ws = {}

    def _check(self, status, what):
        if status != 0:
            raise RuntimeError(f"{what}: status {status}: {self.lib.flash_attn_last_error().decode()}")

    @staticmethod
    def _set(args, name, t):
        setattr(args, name, t.data_ptr())
        b, s, h, d = t.stride()
        setattr(args, name + "_strides", Strides(b, s, h, d))

    def _shape(self, args, q, k, causal, code):
        args.struct_size = ctypes.sizeof(args)
        args.dtype = code
        args.causal = int(causal)
        args.batch, args.seqlen_q, args.num_heads_q, args.head_dim = q.shape
        args.seqlen_k, args.num_heads_k = k.shape[1], k.shape[2]
        args.softmax_scale = 1.0 / math.sqrt(q.shape[-1])
        args.stream = torch.cuda.current_stream().cuda_stream

    def forward_args(self, q, k, v, out, lse, causal, code):
        a = ForwardArgs()
        self._shape(a, q, k, causal, code)
        for n, t in (("q", q), ("k", k), ("v", v), ("out", out)):
            self._set(a, n, t)
        a.lse = lse.data_ptr()
        size = ctypes.c_size_t()
        self._check(self.lib.flash_attn_forward_workspace_size(ctypes.byref(a), ctypes.byref(size)),
                    "workspace size")
        if size.value:  # the decode kernel's split rows: a torch allocation, kept by the args
            a.workspace_tensor = torch.empty(size.value, dtype=torch.uint8, device="cuda")
            a.workspace, a.workspace_size = a.workspace_tensor.data_ptr(), size.value
        return a

    def backward_args(self, do, q, k, v, out, lse, dq, dk, dv, causal, code):
        a = BackwardArgs()
        self._shape(a, q, k, causal, code)
        for n, t in (("dout", do), ("q", q), ("k", k), ("v", v), ("out", out), ("dq", dq),
                     ("dk", dk), ("dv", dv)):
            self._set(a, n, t)
        a.lse = lse.data_ptr()
        size = ctypes.c_size_t()
        self._check(self.lib.flash_attn_backward_workspace_size(ctypes.byref(a), ctypes.byref(size)),
                    "workspace size")
        # A torch allocation, so the peak-memory numbers include it.
        ws = torch.empty(max(size.value, 1), dtype=torch.uint8, device="cuda")
        a.workspace, a.workspace_size = ws.data_ptr(), size.value
        return a, ws

    def fwd(self, a):
        self._check(self.lib.flash_attn_fwd(ctypes.byref(a)), "flash_attn_fwd")

    def bwd(self, a):
        self._check(self.lib.flash_attn_bwd(ctypes.byref(a)), "flash_attn_bwd")


def bench(fn):
    if do_bench is not None:
        return do_bench(fn, warmup=25, rep=100, return_mode="median")
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(3):
        fn()
    times = []
    for _ in range(10):
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def best_of_two_passes(timers, row, may_refuse=()):
    """Times each (name, timer) of timers twice, in their order and then the reverse, and returns
    each name's better time, so that clock drift favours none. A contender named in may_refuse
    (a PyTorch backend) that refuses the shape gets row["<name>_error"] and no time; any other
    error raises."""
    best = {}
    for order in (timers, timers[::-1]):
        for name, timer in order:
            if f"{name}_error" in row:
                continue
            try:
                ms = timer()
            except RuntimeError as e:
                if name not in may_refuse:
                    raise
                row[f"{name}_error"] = str(e).splitlines()[0][:120]
                continue
            best[name] = min(best.get(name, float("inf")), ms)
    return best


def peak_extra(fn):
    """Peak bytes allocated by one call beyond what was live before it."""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def standard_attention(q, k, v, causal):
    # [B, N, H, D] -> [B, H, N, D]; scores in the input dtype, softmax in f32, as frameworks do.
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    s = torch.matmul(qt, kt.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    if causal:
        n, m = s.shape[-2], s.shape[-1]
        mask = torch.ones(n, m, dtype=torch.bool, device=q.device).tril(m - n)
        s = s.masked_fill(~mask, float("-inf"))
    p = torch.softmax(s.float(), dim=-1).to(q.dtype)
    return torch.matmul(p, vt).transpose(1, 2)


def paper_shape(n, d):
    """Batch and heads of the FlashAttention papers' shapes: 16k tokens, hidden 2048."""
    return max(1, 16384 // n), 2048 // d


def forward_flops(b, h, n, d, causal):
    """4*B*H*N*N*D, halved for causal; the backward counts 2.5 times this."""
    return 4.0 * b * h * n * n * d / (2 if causal else 1)


def run_case(fa, dtype_name, n, d, causal, with_standard):
    dtype, code = DTYPES[dtype_name]
    b, h = paper_shape(n, d)
    torch.manual_seed(n * 1000 + d + causal)
    q, k, v, do = (torch.randn(b, n, h, d, device="cuda", dtype=dtype) for _ in range(4))
    flops = forward_flops(b, h, n, d, causal)
    row = {"dtype": dtype_name, "N": n, "D": d, "B": b, "H": h, "causal": causal}

    out = torch.empty_like(q)
    lse = torch.empty(b, h, n, device="cuda", dtype=torch.float32)
    fa_fwd = fa.forward_args(q, k, v, out, lse, causal, code)
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))  # SDPA takes [B, H, N, D] views

    def sm80_fwd():
        # The sm_80 kernels on the same GPU (the library reads this switch at every call): on
        # a Hopper GPU this shows what the sm_90a kernel adds.
        os.environ["FLASHATTN_DISABLE_SM90"] = "1"
        try:
            return bench(lambda: fa.fwd(fa_fwd))
        finally:
            del os.environ["FLASHATTN_DISABLE_SM90"]

    def sdpa_fwd(backend):
        with torch.nn.attention.sdpa_kernel([backend]):
            return bench(lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal))

    timers = [("flashattn", lambda: bench(lambda: fa.fwd(fa_fwd))), ("flashattn_sm80", sm80_fwd)]
    timers += [(name, lambda backend=backend: sdpa_fwd(backend)) for name, backend in SDPA.items()]
    for name, ms in best_of_two_passes(timers, row, may_refuse=SDPA).items():
        row[f"{name}_fwd_ms"] = ms
    fa.fwd(fa_fwd)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    fa_bwd, ws = fa.backward_args(do, q, k, v, out, lse, dq, dk, dv, causal, code)
    row["flashattn_bwd_ms"] = bench(lambda: fa.bwd(fa_bwd))

    def fresh_fwd():
        o = torch.empty_like(q)
        l = torch.empty(b, h, n, device="cuda", dtype=torch.float32)
        fa.fwd(fa.forward_args(q, k, v, o, l, causal, code))
    row["flashattn_fwd_peak_bytes"] = peak_extra(fresh_fwd)

    best, best_ms = None, float("inf")
    for name, backend in SDPA.items():
        if f"{name}_error" in row:
            continue
        try:
            with torch.nn.attention.sdpa_kernel([backend]):
                f = lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)
                ref = f()
                row[f"{name}_fwd_peak_bytes"] = peak_extra(f)
                qg, kg, vg = (x.detach().clone().requires_grad_() for x in (qt, kt, vt))
                og = F.scaled_dot_product_attention(qg, kg, vg, is_causal=causal)
                dot = do.transpose(1, 2)
                row[f"{name}_bwd_ms"] = bench(
                    lambda: torch.autograd.grad(og, (qg, kg, vg), dot, retain_graph=True))
            if row[f"{name}_fwd_ms"] < best_ms:
                best, best_ms = ref, row[f"{name}_fwd_ms"]
        except RuntimeError as e:  # a backend may refuse a shape
            row[f"{name}_error"] = str(e).splitlines()[0][:120]
    if with_standard:
        f = lambda: standard_attention(q, k, v, causal)
        row["standard_fwd_ms"] = bench(f)
        row["standard_fwd_peak_bytes"] = peak_extra(f)
    if best is not None:
        ref = best.transpose(1, 2).float()
        row["max_abs_diff_vs_best"] = (out.float() - ref).abs().max().item()
        row["rel_err_vs_best"] = ((out.float() - ref).norm() / ref.norm()).item()
    for key in list(row):
        if key.endswith("_fwd_ms"):
            row[key.replace("_ms", "_tflops")] = flops / row[key] / 1e9
        if key.endswith("_bwd_ms"):
            row[key.replace("_ms", "_tflops")] = 2.5 * flops / row[key] / 1e9
    del ws
    return row


def gemm_ceiling(dtype):
    a = torch.randn(8192, 8192, device="cuda", dtype=dtype)
    b = torch.randn(8192, 8192, device="cuda", dtype=dtype)
    return 2 * 8192**3 / bench(lambda: a @ b) / 1e9


def table(rows, ceilings):
    lines = ["| dtype | D | causal | N | flashattn fwd | fa sm80 fwd | FLASH | CUDNN | EFFICIENT | "
             "standard | fa/FLASH | fa/CUDNN | fa/GEMM | fa bwd | FLASH bwd | CUDNN bwd | "
             "bwd fa/FLASH | max abs diff |",
             "|" + "---|" * 18]
    f = lambda r, k: f"{r[k]:.0f}" if k in r else "–"
    ratio = lambda r, a, b: f"{r[a] / r[b]:.2f}" if a in r and b in r else "–"
    for r in rows:
        gemm = ceilings.get(r["dtype"])
        frac = f"{r['flashattn_fwd_tflops'] / gemm:.2f}" if gemm else "–"
        lines.append(
            f"| {r['dtype']} | {r['D']} | {'yes' if r['causal'] else 'no'} | {r['N']} | "
            f"{f(r, 'flashattn_fwd_tflops')} | {f(r, 'flashattn_sm80_fwd_tflops')} | "
            f"{f(r, 'FLASH_fwd_tflops')} | {f(r, 'CUDNN_fwd_tflops')} | "
            f"{f(r, 'EFFICIENT_fwd_tflops')} | {f(r, 'standard_fwd_tflops')} | "
            f"{ratio(r, 'flashattn_fwd_tflops', 'FLASH_fwd_tflops')} | "
            f"{ratio(r, 'flashattn_fwd_tflops', 'CUDNN_fwd_tflops')} | {frac} | "
            f"{f(r, 'flashattn_bwd_tflops')} | "
            f"{f(r, 'FLASH_bwd_tflops')} | {f(r, 'CUDNN_bwd_tflops')} | "
            f"{ratio(r, 'flashattn_bwd_tflops', 'FLASH_bwd_tflops')} | "
            f"{r.get('max_abs_diff_vs_best', float('nan')):.2e} |")
    return "\n".join(lines)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)
        return
    combos = sorted({(r["dtype"], r["D"], r["causal"]) for r in rows})
    cols = min(len(combos), 4)
    nrows = (len(combos) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3.2 * nrows), squeeze=False)
    for ax in axes.flat[len(combos):]:
        ax.axis("off")
    for ax, (dt, d, causal) in zip(axes.flat, combos):
        sel = [r for r in rows if (r["dtype"], r["D"], r["causal"]) == (dt, d, causal)]
        for name in ("flashattn", "flashattn_sm80", "FLASH", "CUDNN", "EFFICIENT", "standard"):
            pts = [(r["N"], r[f"{name}_fwd_tflops"]) for r in sel if f"{name}_fwd_tflops" in r]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_title(f"{dt} D={d} {'causal' if causal else 'full'}")
        ax.set_xlabel("N")
        ax.set_ylabel("forward TFLOP/s")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default="build/libflashattn.so")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--dtypes", default="f16,bf16")
    ap.add_argument("--seqlens", default="512,1024,2048,4096,8192,16384")
    ap.add_argument("--head-dims", default="64,128,256")
    ap.add_argument("--standard-max-n", type=int, default=4096)
    ap.add_argument("--replot", metavar="JSON", help="only redraw the plot and table of a saved run")
    args = ap.parse_args()
    if args.replot:
        with open(args.replot) as fh:
            saved = json.load(fh)
        rows = saved["rows"]
        os.makedirs(args.out, exist_ok=True)
        plot(rows, os.path.join(args.out, "compare_torch.png"))
        print(table(rows, saved.get("gemm_8192_tflops", {})))
        return

    load_torch()
    fa = FlashAttn(args.lib)
    rows = []
    combos = [(dt, d, c, n) for dt in args.dtypes.split(",") for d in map(int, args.head_dims.split(","))
              for c in (False, True) for n in map(int, args.seqlens.split(","))]
    for i, (dt, d, c, n) in enumerate(combos):
        print(f"[{i + 1}/{len(combos)}] {dt} D={d} causal={c} N={n}", file=sys.stderr, flush=True)
        rows.append(run_case(fa, dt, n, d, c, n <= args.standard_max_n))
        torch.cuda.empty_cache()
    ceilings = {dt: gemm_ceiling(DTYPES[dt][0]) for dt in args.dtypes.split(",")}
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
              "gemm_8192_tflops": ceilings, "rows": rows}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "compare_torch.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    plot(rows, os.path.join(args.out, "compare_torch.png"))
    md = table(rows, ceilings)
    with open(os.path.join(args.out, "compare_torch.md"), "w") as fh:
        fh.write(md + "\n")
    print(f"device {result['device']}, torch {result['torch']}, dense GEMM 8192^3: "
          + ", ".join(f"{k} {v:.0f} TFLOP/s" for k, v in ceilings.items()))
    print(md)


if __name__ == "__main__":
    main()
