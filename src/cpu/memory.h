// Scratch memory of the CPU backend: 64-byte aligned, zero-initialised float buffers, counted
// so the benchmark can report the peak extra memory a call used (its only allocations).
#pragma once

#include <cstddef>
#include <cstdint>

namespace flashattn::cpu {

class FloatBuffer {
public:
    FloatBuffer() = default;
    explicit FloatBuffer(size_t count);  // throws std::bad_alloc
    ~FloatBuffer();
    FloatBuffer(FloatBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
    FloatBuffer& operator=(FloatBuffer&& o) noexcept;
    FloatBuffer(const FloatBuffer&) = delete;
    FloatBuffer& operator=(const FloatBuffer&) = delete;

    float* data() const { return p_; }
    size_t size() const { return n_; }

private:
    float* p_ = nullptr;
    size_t n_ = 0;
};

// One scratch region per worker thread, sized for the pool's thread count when constructed;
// pass workers() to parallel_for as its max_workers.
class PerThreadScratch {
public:
    explicit PerThreadScratch(size_t floats_per_thread);
    int workers() const { return workers_; }
    float* get(int worker) const { return buf_.data() + per_ * static_cast<size_t>(worker); }

private:
    int workers_;
    size_t per_;  // rounded up to whole cache lines so every region stays 64-byte aligned
    FloatBuffer buf_;
};

// Bytes held by live FloatBuffers now, and the most held since the last reset.
size_t scratch_bytes_in_use();
size_t scratch_bytes_peak();
void reset_scratch_peak();

}  // namespace flashattn::cpu
