#!/usr/bin/env python3
"""Runs one flashattn forward and backward (through the C ABI) for ncu to profile.

usage: profile_kernels.py --lib build-gpu/libflashattn.so [--n 4096] [--d 128] [--causal]
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_torch  # noqa: E402  (same directory)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default="build/libflashattn.so")
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--dtype", default="f16")
    ap.add_argument("--causal", action="store_true")
    args = ap.parse_args()
    compare_torch.load_torch()
    torch = compare_torch.torch
    dtype, code = compare_torch.DTYPES[args.dtype]
    b, h = compare_torch.paper_shape(args.n, args.d)
    q, k, v, do = (torch.randn(b, args.n, h, args.d, device="cuda", dtype=dtype) for _ in range(4))
    out, lse = torch.empty_like(q), torch.empty(b, h, args.n, device="cuda", dtype=torch.float32)
    fa = compare_torch.FlashAttn(args.lib)
    fa.fwd(fa.forward_args(q, k, v, out, lse, args.causal, code))
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    bwd, ws = fa.backward_args(do, q, k, v, out, lse, dq, dk, dv, args.causal, code)
    fa.bwd(bwd)
    torch.cuda.synchronize()
    print(f"profiled b={b} h={h} n={args.n} d={args.d} {args.dtype} causal={args.causal}, "
          f"scale {1 / math.sqrt(args.d):.4f}")


if __name__ == "__main__":
    main()
