// Builds without CUDA: the CUDA backend is never usable, so these are never reached.
#include <stdexcept>

#include "device_memory.h"

namespace flashattn::test {
void* cuda_alloc(size_t) { throw std::logic_error("CUDA memory in a build without CUDA"); }
void cuda_free(void*) {}
void cuda_copy_to_device(void*, const void*, size_t) {
    throw std::logic_error("CUDA memory in a build without CUDA");
}
void cuda_copy_to_host(void*, const void*, size_t) {
    throw std::logic_error("CUDA memory in a build without CUDA");
}
void cuda_synchronize() {}
}  // namespace flashattn::test
