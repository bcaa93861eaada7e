// One backend's side of flashattn-bench: holds the inputs of a configuration and times flash
// forward, flash backward and standard attention on them.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/half.h"
#include "flashattn/flashattn.h"

namespace flashattn::bench {

struct Config {
    int dtype = FLASH_ATTN_DTYPE_F32;
    int64_t batch = 1, heads = 8, heads_k = 0, seqlen_q = 2048, seqlen_k = 0, head_dim = 64;
    bool causal = false;
    int warmup = 2, repeats = 5;

    const char* dtype_name() const {
        return dtype == FLASH_ATTN_DTYPE_F16 ? "f16" : dtype == FLASH_ATTN_DTYPE_BF16 ? "bf16" : "f32";
    }
    bool set_dtype(const std::string& s) {
        if (s == "f16") dtype = FLASH_ATTN_DTYPE_F16;
        else if (s == "bf16") dtype = FLASH_ATTN_DTYPE_BF16;
        else if (s == "f32") dtype = FLASH_ATTN_DTYPE_F32;
        else return false;
        return true;
    }
    size_t elem_size() const { return dtype == FLASH_ATTN_DTYPE_F32 ? 4 : 2; }
    float scale() const { return 1.0f / std::sqrt(static_cast<float>(head_dim)); }

    // Element i of a host buffer of this dtype, as float, and back (rounded).
    void store(uint8_t* base, size_t i, float x) const {
        if (dtype == FLASH_ATTN_DTYPE_F32) {
            std::memcpy(base + 4 * i, &x, 4);
            return;
        }
        const uint16_t h = dtype == FLASH_ATTN_DTYPE_F16 ? float_to_half(x) : float_to_bf16(x);
        std::memcpy(base + 2 * i, &h, 2);
    }
    float load(const uint8_t* base, size_t i) const {
        if (dtype == FLASH_ATTN_DTYPE_F32) {
            float x;
            std::memcpy(&x, base + 4 * i, 4);
            return x;
        }
        uint16_t h;
        std::memcpy(&h, base + 2 * i, 2);
        return dtype == FLASH_ATTN_DTYPE_F16 ? half_to_float(h) : bf16_to_float(h);
    }

    // The shape fields of an argument struct (packed tensors: strides stay zero).
    template <class Args>
    void fill(Args& a) const {
        a.dtype = dtype;
        a.causal = causal;
        a.batch = batch, a.seqlen_q = seqlen_q, a.seqlen_k = seqlen_k;
        a.num_heads_q = heads, a.num_heads_k = heads_k, a.head_dim = head_dim;
        a.softmax_scale = scale();
    }
};

struct Measurement {
    double ms = 0;          // median over repeats
    double peak_bytes = 0;  // peak memory allocated during the call, beyond inputs and outputs
};

class Runner {
public:
    virtual ~Runner() = default;
    virtual std::string device_name() const = 0;
    virtual std::string default_dtype() const = 0;
    // Allocates and fills the inputs of `c` (fresh random values).
    virtual bool prepare(const Config& c, std::string* error) = 0;
    virtual bool flash_forward(Measurement* m, std::string* error) = 0;
    // False (with the reason) where standard attention cannot run, e.g. no cuBLAS.
    virtual bool standard_available(std::string* why) const {
        (void)why;
        return true;
    }
    // Also reports the largest |flash - standard| output difference (run flash_forward first).
    virtual bool standard_forward(Measurement* m, double* max_diff, std::string* error) = 0;
    virtual bool flash_backward(Measurement* m, std::string* error) = 0;
};

// "auto", "cpu" or "cuda"; null with *error set when that backend cannot run here.
Runner* make_runner(const std::string& backend, std::string* error);
Runner* make_cpu_runner();
Runner* make_cuda_runner(std::string* error);  // null without a usable CUDA backend

// Median of the times (ms) of `repeats` calls of fn after `warmup` calls; false if one fails.
template <class F>
bool median_ms(int warmup, int repeats, F&& fn, double* ms);

}  // namespace flashattn::bench

#include <algorithm>
#include <chrono>
#include <vector>

template <class F>
bool flashattn::bench::median_ms(int warmup, int repeats, F&& fn, double* ms) {
    for (int i = 0; i < warmup; ++i)
        if (!fn()) return false;
    std::vector<double> t;
    for (int i = 0; i < std::max(1, repeats); ++i) {
        const auto a = std::chrono::steady_clock::now();
        if (!fn()) return false;
        t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a)
                        .count());
    }
    std::sort(t.begin(), t.end());
    *ms = t[t.size() / 2];
    return true;
}
