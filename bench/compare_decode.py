#!/usr/bin/env python3
"""Decode-shaped forwards (one query per sequence against a long K/V cache, or a few with
--queries, as speculative decoding verifies drafted tokens; non-causal) of flashattn and
PyTorch's SDPA backends, side by side in one process, on the same inputs: the step an LLM
worker runs once per generated token. Decode is bound by reading K and V, so the table gives
the time and the bytes of Q, K, V and O moved per second. Each contender is timed twice per
cell, in opposite orders, keeping its better time (do_bench median). GQA cases pass
enable_gqa to SDPA; a backend that refuses a shape shows "–".

A decode step takes microseconds, as long as a call takes the host, so timing calls one by one
can time the host. --graphs times 20 calls captured in a CUDA graph instead (per call: the
replay's median over 20), as inference servers run decode. --also NAME=PATH times another
build of flashattn beside the first (repeatable); only the first build's output is checked
against the float32 reference.

usage: compare_decode.py --lib build-gpu/libflashattn.so [--also NAME=OTHER.so] [--graphs]
                         [--out DIR] [--dtype f16] [--batches 1,8,32]
                         [--kv-lens 1024,4096,16384] [--kv-heads 32,8] [--queries 1]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_torch as ct  # noqa: E402  (same directory)

HEADS_Q, HEAD_DIM = 32, 128  # a Llama-style layer
GRAPH_CALLS = 20


def bench_graph(fn):
    """Milliseconds per call of fn, run GRAPH_CALLS times in one CUDA graph."""
    torch = ct.torch
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm up (lazy setup, refusals) outside the capture
        fn()
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(GRAPH_CALLS):
            fn()
    return ct.bench(graph.replay) / GRAPH_CALLS


def flashattn_call(fa, args):
    """fa's forward on the stream current at the call (a graph captures on its own stream)."""
    def run():
        args.stream = ct.torch.cuda.current_stream().cuda_stream
        fa.fwd(args)
    return run


def run_cell(builds, dtype_name, batch, queries, kv_len, heads_k, timer):
    torch, F = ct.torch, ct.F
    dtype, code = ct.DTYPES[dtype_name]
    torch.manual_seed(batch * 7 + kv_len + heads_k)
    q = torch.randn(batch, queries, HEADS_Q, HEAD_DIM, device="cuda", dtype=dtype)
    k, v = (torch.randn(batch, kv_len, heads_k, HEAD_DIM, device="cuda", dtype=dtype)
            for _ in range(2))
    out = torch.full_like(q, float("nan"))  # poisoned: an unwritten output shows
    lse = torch.empty(batch, HEADS_Q, queries, device="cuda", dtype=torch.float32)
    calls = {name: flashattn_call(fa, fa.forward_args(q, k, v, out, lse, False, code))
             for name, fa in builds}
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    gqa = heads_k != HEADS_Q

    def sdpa(backend):
        def run():
            with torch.nn.attention.sdpa_kernel([backend]):
                return timer(lambda: F.scaled_dot_product_attention(qt, kt, vt, enable_gqa=gqa))
        return run

    timers = [(name, lambda call=call: timer(call)) for name, call in calls.items()]
    timers += [(name, sdpa(backend)) for name, backend in ct.SDPA.items()]
    row = {"dtype": dtype_name, "batch": batch, "seqlen_q": queries, "kv_len": kv_len,
           "heads_q": HEADS_Q, "heads_k": heads_k, "head_dim": HEAD_DIM}
    for name, ms in ct.best_of_two_passes(timers, row, may_refuse=ct.SDPA).items():
        row[f"{name}_us"] = ms * 1e3
    out.fill_(float("nan"))
    calls["flashattn"]()
    # The float32 reference, one sequence at a time (the cache in float32 at once would not fit).
    err = 0.0
    for b in range(batch):
        kf, vf = (x[b].float().repeat_interleave(HEADS_Q // heads_k, dim=1) for x in (k, v))
        s = torch.einsum("qhd,khd->hqk", q[b].float(), kf) * HEAD_DIM ** -0.5
        ref = torch.einsum("hqk,khd->qhd", torch.softmax(s, dim=-1), vf)
        err = max(err, (out[b].float() - ref).abs().max().nan_to_num(float("inf")).item())
    row["max_abs_diff"] = err
    moved = (q.numel() + k.numel() + v.numel() + out.numel()) * q.element_size()
    for key in [key for key in row if key.endswith("_us")]:
        row[key.replace("_us", "_gbps")] = moved / (row[key] * 1e-6) / 1e9
    return row


def table(rows):
    names = [k[:-3] for k in rows[0] if k.endswith("_us") and k[:-3] not in ct.SDPA]
    names += list(ct.SDPA)
    lines = ["| B | queries | KV len | KV heads | " + " | ".join(f"{n} µs" for n in names) +
             " | flashattn GB/s | best SDPA GB/s | speed / best SDPA | max abs diff |",
             "|" + "---|" * (len(names) + 8)]
    for r in rows:
        sdpa = [r[f"{n}_us"] for n in ct.SDPA if f"{n}_us" in r]
        best = min(sdpa) if sdpa else None
        cell = lambda n: f"{r[f'{n}_us']:.1f}" if f"{n}_us" in r else "–"
        lines.append(
            f"| {r['batch']} | {r['seqlen_q']} | {r['kv_len']} | {r['heads_k']} | " +
            " | ".join(cell(n) for n in names) +
            f" | {r['flashattn_gbps']:.0f} | " +
            (f"{max(r[f'{n}_gbps'] for n in ct.SDPA if f'{n}_gbps' in r):.0f} | "
             f"{best / r['flashattn_us']:.2f}" if best else "– | –") +
            f" | {r['max_abs_diff']:.1e} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default="build-gpu/libflashattn.so")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=PATH",
                    help="another flashattn build, timed beside the first")
    ap.add_argument("--graphs", action="store_true", help="time calls captured in CUDA graphs")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--dtype", default="f16")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--kv-lens", default="1024,4096,16384")
    ap.add_argument("--kv-heads", default="32,8")
    ap.add_argument("--queries", type=int, default=1, help="query tokens per sequence")
    args = ap.parse_args()
    ct.load_torch()
    builds = [("flashattn", ct.FlashAttn(args.lib))]
    builds += [(b.split("=", 1)[0], ct.FlashAttn(b.split("=", 1)[1])) for b in args.also]
    timer = bench_graph if args.graphs else ct.bench
    rows = []
    for heads_k in map(int, args.kv_heads.split(",")):
        for batch in map(int, args.batches.split(",")):
            for kv_len in map(int, args.kv_lens.split(",")):
                rows.append(run_cell(builds, args.dtype, batch, args.queries, kv_len, heads_k,
                                     timer))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    md = table(rows)
    print(md)
    stem = os.path.join(args.out, "compare_decode" + ("-graphs" if args.graphs else ""))
    with open(stem + ".md", "w") as fh:
        fh.write(md + "\n")
    with open(stem + ".json", "w") as fh:
        json.dump({"device": ct.torch.cuda.get_device_name(), "torch": ct.torch.__version__,
                   "graphs": args.graphs, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
