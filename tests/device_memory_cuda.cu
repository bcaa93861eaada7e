#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "device_memory.h"

namespace flashattn::test {
namespace {
void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
}  // namespace

void* cuda_alloc(size_t bytes) {
    void* p = nullptr;
    check(cudaMalloc(&p, bytes), "cudaMalloc");
    return p;
}
void cuda_free(void* p) { cudaFree(p); }
void cuda_copy_to_device(void* dst, const void* src, size_t bytes) {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
}
void cuda_copy_to_host(void* dst, const void* src, size_t bytes) {
    check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
}
void cuda_synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }
}  // namespace flashattn::test
