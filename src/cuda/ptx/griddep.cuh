// Programmatic dependent launch (griddepcontrol, sm_90+): a kernel launched with
// cudaLaunchAttributeProgrammaticStreamSerialization may be scheduled before the kernel ahead of
// it in the stream has finished, once every CTA of that kernel has called launch_dependents or
// exited; it must call wait before it reads what that kernel wrote. wait returns when the
// preceding grid has completed and its memory operations are visible. Without the attribute, or
// below sm_90, both are no-ops.
#pragma once

namespace flashattn::cuda::ptx {

__device__ __forceinline__ void griddep_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void griddep_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

}  // namespace flashattn::cuda::ptx
