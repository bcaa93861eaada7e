// flashattn-bench on the CPU: flash through the C ABI, standard attention through the backend's
// unfused path; peak extra memory from the backend's scratch accounting (its only allocations).
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "bench_runner.h"
#include "cpu/cpu.h"
#include "cpu/memory.h"
#include "cpu/thread_pool.h"

namespace flashattn::bench {
namespace {

class CpuRunner : public Runner {
public:
    std::string device_name() const override {
        return "CPU, " + std::to_string(cpu::num_threads()) + " threads";
    }
    std::string default_dtype() const override { return "f32"; }

    bool prepare(const Config& c, std::string*) override {
        c_ = c;
        const size_t es = c.elem_size();
        nq_ = size_t(c.batch * c.seqlen_q * c.heads * c.head_dim);
        nk_ = size_t(c.batch * c.seqlen_k * c.heads_k * c.head_dim);
        std::mt19937_64 rng(std::random_device{}());
        std::normal_distribution<float> n(0.f, 1.f);
        for (auto [buf, count] : {std::pair{&q_, nq_}, {&k_, nk_}, {&v_, nk_}, {&dout_, nq_}}) {
            buf->resize(count * es);
            for (size_t i = 0; i < count; ++i) c_.store(buf->data(), i, n(rng));
        }
        for (auto [buf, count] : {std::pair{&out_, nq_}, {&std_out_, nq_}, {&dq_, nq_},
                                  {&dk_, nk_}, {&dv_, nk_}}) {
            buf->assign(count * es, 0);
        }
        lse_.assign(size_t(c.batch * c.heads * c.seqlen_q), 0.f);
        return true;
    }

    bool flash_forward(Measurement* m, std::string* error) override {
        FlashAttnForwardArgs a;
        flash_attn_forward_args_init(&a);
        c_.fill(a);
        a.q = q_.data(), a.k = k_.data(), a.v = v_.data(), a.out = out_.data(), a.lse = lse_.data();
        return timed(m, error, [&] { return flash_attn_fwd(&a) == FLASH_ATTN_SUCCESS; });
    }

    bool standard_forward(Measurement* m, double* max_diff, std::string* error) override {
        FwdProblem p;
        p.shape = Shape{static_cast<DType>(c_.dtype), c_.batch, c_.seqlen_q, c_.seqlen_k,
                        c_.heads, c_.heads_k, c_.head_dim, c_.causal, c_.scale()};
        const int64_t d = c_.head_dim;
        p.q = TensorIn{q_.data(), {c_.seqlen_q * c_.heads * d, c_.heads * d, d}};
        p.k = TensorIn{k_.data(), {c_.seqlen_k * c_.heads_k * d, c_.heads_k * d, d}};
        p.v = TensorIn{v_.data(), p.k.s};
        p.out = TensorOut{std_out_.data(), p.q.s};
        if (!timed(m, error, [&] { return cpu::standard_forward(p) == FLASH_ATTN_SUCCESS; }))
            return false;
        *max_diff = 0;
        for (size_t i = 0; i < nq_; ++i)
            *max_diff = std::max(*max_diff, double(std::fabs(c_.load(out_.data(), i) - c_.load(std_out_.data(), i))));
        return true;
    }

    bool flash_backward(Measurement* m, std::string* error) override {
        FlashAttnBackwardArgs a;
        flash_attn_backward_args_init(&a);
        c_.fill(a);
        a.dout = dout_.data(), a.q = q_.data(), a.k = k_.data(), a.v = v_.data();
        a.out = out_.data(), a.lse = lse_.data();
        a.dq = dq_.data(), a.dk = dk_.data(), a.dv = dv_.data();
        return timed(m, error, [&] { return flash_attn_bwd(&a) == FLASH_ATTN_SUCCESS; });
    }

private:
    template <class F>
    bool timed(Measurement* m, std::string* error, F&& fn) {
        cpu::reset_scratch_peak();
        const size_t before = cpu::scratch_bytes_in_use();
        if (!median_ms(c_.warmup, c_.repeats, fn, &m->ms)) {
            *error = flash_attn_last_error();
            return false;
        }
        m->peak_bytes = double(cpu::scratch_bytes_peak() - before);
        return true;
    }

    Config c_;
    size_t nq_ = 0, nk_ = 0;
    std::vector<uint8_t> q_, k_, v_, dout_, out_, std_out_, dq_, dk_, dv_;
    std::vector<float> lse_;
};

}  // namespace

Runner* make_cpu_runner() { return new CpuRunner(); }

Runner* make_runner(const std::string& backend, std::string* error) {
    if (backend == "cpu") return make_cpu_runner();
    if (backend == "cuda") return make_cuda_runner(error);
    if (backend == "auto") {
        std::string ignored;
        if (Runner* r = make_cuda_runner(&ignored)) return r;
        return make_cpu_runner();
    }
    *error = "--backend " + backend + ": auto, cpu or cuda";
    return nullptr;
}

}  // namespace flashattn::bench
