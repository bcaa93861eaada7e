// Memory where a backend computes: host memory for the CPU, device memory for CUDA. The CUDA
// half exists only in builds with the CUDA backend (device_memory_cuda.cu).
#pragma once

#include <cstddef>
#include <string>

namespace flashattn::test {

enum class Backend { CPU, CUDA };

std::string backend_name(Backend b);
// Compiled and a device present; the suites skip (never pass) a backend that is not usable.
bool backend_usable(Backend b);

class Memory {
public:
    Memory(Backend b, size_t bytes);
    ~Memory();
    Memory(const Memory&) = delete;
    Memory& operator=(const Memory&) = delete;
    void* get() const { return ptr_; }
    void upload(const void* src);      // all `bytes`
    void download(void* dst) const;    // all `bytes`

private:
    Backend backend_;
    void* ptr_ = nullptr;
    size_t bytes_;
};

// Implemented per build: CUDA allocation and copies, or nothing when CUDA is absent.
void* cuda_alloc(size_t bytes);
void cuda_free(void* p);
void cuda_copy_to_device(void* dst, const void* src, size_t bytes);
void cuda_copy_to_host(void* dst, const void* src, size_t bytes);
void cuda_synchronize();

}  // namespace flashattn::test
