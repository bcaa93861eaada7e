#include "cpu/memory.h"

#include "cpu/thread_pool.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace flashattn::cpu {
namespace {
std::atomic<size_t> g_in_use{0}, g_peak{0};
constexpr size_t kAlign = 64;  // a cache line, and a full AVX-512 vector
}  // namespace

FloatBuffer::FloatBuffer(size_t count) {
    if (count == 0) return;
    if (count > (SIZE_MAX - kAlign) / sizeof(float)) throw std::bad_alloc();
    const size_t bytes = (count * sizeof(float) + kAlign - 1) / kAlign * kAlign;
    p_ = static_cast<float*>(std::aligned_alloc(kAlign, bytes));
    if (p_ == nullptr) throw std::bad_alloc();
    std::memset(p_, 0, bytes);
    n_ = count;
    const size_t now = g_in_use.fetch_add(bytes) + bytes;
    size_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
}

FloatBuffer::~FloatBuffer() {
    if (p_ == nullptr) return;
    g_in_use.fetch_sub((n_ * sizeof(float) + kAlign - 1) / kAlign * kAlign);
    std::free(p_);
}

FloatBuffer& FloatBuffer::operator=(FloatBuffer&& o) noexcept {
    if (this != &o) {
        this->~FloatBuffer();
        p_ = o.p_;
        n_ = o.n_;
        o.p_ = nullptr;
        o.n_ = 0;
    }
    return *this;
}

PerThreadScratch::PerThreadScratch(size_t floats_per_thread)
    : workers_(num_threads()),
      per_((floats_per_thread + kAlign / sizeof(float) - 1) / (kAlign / sizeof(float)) *
           (kAlign / sizeof(float))),
      buf_(per_ * static_cast<size_t>(workers_)) {}

size_t scratch_bytes_in_use() { return g_in_use.load(); }
size_t scratch_bytes_peak() { return g_peak.load(); }
void reset_scratch_peak() { g_peak.store(g_in_use.load()); }

}  // namespace flashattn::cpu
