// The sm_90a PTX-layer probe (sm90_layer_probe.cu, built with the sm_90a kernels), callable from
// host test code without CUDA headers.
#pragma once

namespace flashattn::test {

constexpr int kProbeRows = 64;  // rows of Q, K and V (keys)
// Head dims: two and three full 64-column slabs, and a partial second slab.
constexpr int kProbeHeadDims[] = {96, 128, 192};

// Whether device 0 is an sm_90 GPU, which the probe needs.
bool sm90_probe_device();

// q, k, v: device [kProbeRows x head_dim] f16, packed, head_dim one of kProbeHeadDims.
// Writes S = Q K^T ([kProbeRows x kProbeRows]) and O = f16(S) V ([kProbeRows x head_dim]) as
// f32, row-major, to device memory. Returns nullptr on success, else the CUDA error's text.
const char* run_sm90_layer_probe(int head_dim, const void* q, const void* k, const void* v,
                                 float* s_out, float* o_out);

}  // namespace flashattn::test
