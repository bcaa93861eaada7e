#include "device_memory.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "flashattn/flashattn.h"

namespace flashattn::test {

std::string backend_name(Backend b) { return b == Backend::CPU ? "CPU" : "CUDA"; }

bool backend_usable(Backend b) {
    FlashAttnInfo info;
    info.struct_size = sizeof(info);
    if (flash_attn_get_info(&info) != FLASH_ATTN_SUCCESS) return false;
    const int idx = b == Backend::CPU ? FLASH_ATTN_BACKEND_CPU : FLASH_ATTN_BACKEND_CUDA;
    return info.backends[idx].usable != 0;
}

Memory::Memory(Backend b, size_t bytes) : backend_(b), bytes_(bytes) {
    if (b == Backend::CPU) {
        ptr_ = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!ptr_) throw std::bad_alloc();
    } else {
        ptr_ = cuda_alloc(bytes);
    }
}

Memory::~Memory() {
    if (backend_ == Backend::CPU) std::free(ptr_);
    else cuda_free(ptr_);
}

void Memory::upload(const void* src) {
    if (backend_ == Backend::CPU) std::memcpy(ptr_, src, bytes_);
    else cuda_copy_to_device(ptr_, src, bytes_);
}

void Memory::download(void* dst) const {
    if (backend_ == Backend::CPU) std::memcpy(dst, ptr_, bytes_);
    else cuda_copy_to_host(dst, ptr_, bytes_);
}

}  // namespace flashattn::test
