#!/usr/bin/env python3
"""Checks, in `cuobjdump -sass` output on stdin, that each sm_90a forward kernel runs its softmax
while P V is in flight: between a consumer's wait for S (WARPGROUP.DEPBAR.LE gsb0, 0x1) and its
wait for P V (gsb0, 0x0) lie the exponentials (MUFU.EX2). ptxas is free to hoist the second wait
above them, which ptx::hold_wait_for prevents today; this tells if a compiler stops honouring
it. Prints one line per kernel (the most MUFU.EX2 found between such a pair) and exits 1 if a
kernel has none."""
import re
import sys

kernels, name = {}, None
for line in sys.stdin:
    m = re.search(r"Function : (\S+)", line)
    if m:
        name = m.group(1) if "4sm9010fwd_kernel" in m.group(1) else None  # sm90::fwd_kernel
        if name:
            kernels[name] = []
        continue
    m = re.search(r"/\*[0-9a-f]{4,}\*/\s+(.*?);", line)
    if name and m:
        kernels[name].append(m.group(1))

bad = 0
for name, ins in kernels.items():
    best, count = 0, None
    for s in ins:
        if "WARPGROUP.DEPBAR.LE gsb0, 0x1" in s:
            count = 0
        elif "WARPGROUP.DEPBAR.LE gsb0, 0x0" in s:
            best, count = max(best, count or 0), None
        elif count is not None and "MUFU.EX2" in s:
            count += 1
    bad += best == 0
    print(f"{'ok ' if best else 'BAD'} {best:3d} exp2 under P V: {name}")
sys.exit(1 if bad or not kernels else 0)
