#!/usr/bin/env python3
"""Forward time of several builds of libflashattn side by side with PyTorch's CUDNN backend,
in one process, on the same inputs: how kernel variants (a tuning-table or kernel edit, each
built into its own directory) were compared. cuDNN and each build are timed twice per cell, in
opposite orders, each keeping its better time, so clock drift during the run hits all alike.
FLOPs as compare_torch.py: 4*B*H*N*N*D, halved for causal; 16k tokens, hidden 2048.

usage: compare_builds.py NAME=path/libflashattn.so ... [--dtypes f16] [--seqlens 1024,4096,16384]
                         [--head-dims 64,128,256] [--out DIR]
"""
import argparse
import json
import os

import compare_torch as ct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs="+", metavar="NAME=LIB")
    ap.add_argument("--dtypes", default="f16")
    ap.add_argument("--seqlens", default="1024,4096,16384")
    ap.add_argument("--head-dims", default="64,128,256")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    args = ap.parse_args()
    ct.load_torch()
    torch, F = ct.torch, ct.F
    builds = [(b.split("=", 1)[0], ct.FlashAttn(b.split("=", 1)[1])) for b in args.builds]
    names = [n for n, _ in builds]
    print("| dtype | D | causal | N | " + " | ".join(names) + " | CUDNN | " +
          " | ".join(f"{n}/CUDNN" for n in names) + " | max abs diff |")
    rows = []
    for dt in args.dtypes.split(","):
        dtype, code = ct.DTYPES[dt]
        for d in map(int, args.head_dims.split(",")):
            for causal in (False, True):
                for n in map(int, args.seqlens.split(",")):
                    b, h = ct.paper_shape(n, d)
                    torch.manual_seed(n + d)
                    q, k, v = (torch.randn(b, n, h, d, device="cuda", dtype=dtype) for _ in range(3))
                    flops = ct.forward_flops(b, h, n, d, causal)
                    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
                    f = lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)
                    with torch.nn.attention.sdpa_kernel([ct.SDPA["CUDNN"]]):
                        ref = f().transpose(1, 2).float()

                    def time_cudnn():
                        with torch.nn.attention.sdpa_kernel([ct.SDPA["CUDNN"]]):
                            return ct.bench(f)
                    calls, diff = {}, {}
                    for name, fa in builds:
                        out = torch.full_like(q, float("nan"))  # poisoned: unwritten shows
                        lse = torch.empty(b, h, n, device="cuda", dtype=torch.float32)
                        a = fa.forward_args(q, k, v, out, lse, causal, code)
                        fa.fwd(a)
                        torch.cuda.synchronize()
                        err = (out.float() - ref).abs().max().item()
                        diff[name] = err if err == err else float("inf")  # NaN: unwritten
                        calls[name] = (fa, a, out, lse)

                    def time_build(name):
                        fa, a = calls[name][:2]
                        return ct.bench(lambda: fa.fwd(a))

                    timers = [("CUDNN", time_cudnn)]
                    timers += [(name, lambda name=name: time_build(name)) for name in names]
                    tf = {name: flops / ms / 1e9
                          for name, ms in ct.best_of_two_passes(timers, {}).items()}
                    cudnn = tf.pop("CUDNN")
                    rows.append({"dtype": dt, "D": d, "causal": causal, "N": n,
                                 "CUDNN_fwd_tflops": cudnn, "max_abs_diff": max(diff.values()),
                                 **{f"{x}_max_abs_diff": diff[x] for x in names},
                                 **{f"{x}_fwd_tflops": tf[x] for x in names}})
                    print(f"| {dt} | {d} | {'yes' if causal else 'no'} | {n} | " +
                          " | ".join(f"{tf[x]:.0f}" for x in names) + f" | {cudnn:.0f} | " +
                          " | ".join(f"{tf[x] / cudnn:.2f}" for x in names) + f" | {max(diff.values()):.1e} |",
                          flush=True)
    with open(os.path.join(args.out, "compare_builds.json"), "w") as fh:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                   "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
