// FLASHATTN_HOST_DEVICE marks functions both the host and the kernels call; headers that use it
// stay plain C++ outside nvcc, so host-only code and the tests can include them.
#pragma once

#if defined(__CUDACC__)
#define FLASHATTN_HOST_DEVICE __host__ __device__
#else
#define FLASHATTN_HOST_DEVICE
#endif
