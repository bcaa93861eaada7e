// flashattn-bench: flash attention vs standard attention (scores materialized) on one backend.
// Reports the median time over repeats after warm-up, TFLOP/s (4 * B * H * Nq * Nk * D, halved
// for causal; backward 2.5x the forward), the peak extra memory of each, the speedup and the
// memory reduction, and the largest difference between the two outputs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench_runner.h"
#include "flashattn/flashattn.h"

namespace {

using flashattn::bench::Config;
using flashattn::bench::Measurement;
using flashattn::bench::Runner;

void usage() {
    std::printf(
        "usage: flashattn-bench [options]\n"
        "  --backend auto|cpu|cuda   where to run (auto: the GPU if usable, else the CPU)\n"
        "  --dtype f16|bf16|f32      element type (default: f32 on the CPU, f16 on the GPU)\n"
        "  --batch B --heads H --heads-k HK --head-dim D\n"
        "  --seqlen N [--seqlen-k NK] one configuration (NK defaults to N)\n"
        "  --sweep N1,N2,...         several sequence lengths (tokens = batch * N kept if\n"
        "                            --tokens T is given: batch = T / N)\n"
        "  --causal                  bottom-right causal mask\n"
        "  --backward                also time the flash backward pass\n"
        "  --no-standard             skip standard attention (it needs B*H*Nq*Nk floats)\n"
        "  --warmup W --repeats R    untimed and timed runs (default 2 and 5)\n"
        "  --threads T               CPU threads (default: all cores)\n"
        "  --json                    print results as JSON\n");
}

// Memory a call needs beyond its inputs: its own allocations plus the output (and, for flash,
// the LSE it writes), so the ratio stays finite when flash allocates nothing.
double out_bytes(const Config& c) {
    return double(c.batch * c.seqlen_q * c.heads * c.head_dim) * c.elem_size();
}
double lse_bytes(const Config& c) { return double(c.batch * c.heads * c.seqlen_q) * 4; }

double flops(const Config& c) {
    double f = 4.0 * c.batch * c.heads * c.seqlen_q * c.seqlen_k * c.head_dim;
    return c.causal ? f / 2 : f;
}

std::string mib(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024.0));
    return buf;
}

struct Row {
    Config c;
    Measurement flash, standard, backward;
    bool has_standard = false, has_backward = false;
    double max_diff = 0;
};

double flash_mem(const Row& r) { return r.flash.peak_bytes + out_bytes(r.c) + lse_bytes(r.c); }
double standard_mem(const Row& r) { return r.standard.peak_bytes + out_bytes(r.c); }

void print_table(const std::vector<Row>& rows, const std::string& device) {
    std::printf("device: %s; TFLOP/s = 4*B*H*Nq*Nk*D / time%s, median of repeats; mem = peak "
                "allocated beyond the inputs, output included\n",
                device.c_str(), rows.empty() || !rows[0].c.causal ? "" : " / 2 (causal)");
    std::printf("%-5s %4s %4s %6s %6s %4s | %10s %8s %12s | %10s %8s %12s | %7s %7s | %10s %8s\n",
                "dtype", "B", "H", "Nq", "Nk", "D", "flash ms", "TFLOP/s", "flash mem", "std ms",
                "TFLOP/s", "std mem", "speedup", "mem /", "bwd ms", "TFLOP/s");
    for (const Row& r : rows) {
        const double f = flops(r.c);
        std::printf("%-5s %4lld %4lld %6lld %6lld %4lld | %10.3f %8.3f %12s | ", r.c.dtype_name(),
                    (long long)r.c.batch, (long long)r.c.heads, (long long)r.c.seqlen_q,
                    (long long)r.c.seqlen_k, (long long)r.c.head_dim, r.flash.ms,
                    f / r.flash.ms / 1e9, mib(flash_mem(r)).c_str());
        if (r.has_standard) {
            std::printf("%10.3f %8.3f %12s | %6.2fx %6.1fx | ", r.standard.ms,
                        f / r.standard.ms / 1e9, mib(standard_mem(r)).c_str(),
                        r.standard.ms / r.flash.ms, standard_mem(r) / flash_mem(r));
        } else {
            std::printf("%10s %8s %12s | %7s %7s | ", "-", "-", "-", "-", "-");
        }
        if (r.has_backward) {
            std::printf("%10.3f %8.3f\n", r.backward.ms, 2.5 * f / r.backward.ms / 1e9);
        } else {
            std::printf("%10s %8s\n", "-", "-");
        }
    }
    for (const Row& r : rows) {
        if (r.has_standard && r.max_diff > 0.05) {
            std::printf("warning: flash and standard outputs differ by %.3g at N=%lld\n",
                        r.max_diff, (long long)r.c.seqlen_q);
        }
    }
}

void print_json(const std::vector<Row>& rows, const std::string& device) {
    std::printf("{\"device\": \"%s\", \"flop_convention\": \"4*B*H*Nq*Nk*D, /2 causal, bwd x2.5\", "
                "\"results\": [\n",
                device.c_str());
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        const double f = flops(r.c);
        std::printf("  {\"dtype\": \"%s\", \"batch\": %lld, \"heads\": %lld, \"heads_k\": %lld, "
                    "\"seqlen_q\": %lld, \"seqlen_k\": %lld, \"head_dim\": %lld, \"causal\": %s, "
                    "\"flash_ms\": %.6f, \"flash_tflops\": %.4f, \"flash_memory_bytes\": %.0f",
                    r.c.dtype_name(), (long long)r.c.batch, (long long)r.c.heads,
                    (long long)r.c.heads_k, (long long)r.c.seqlen_q, (long long)r.c.seqlen_k,
                    (long long)r.c.head_dim, r.c.causal ? "true" : "false", r.flash.ms,
                    f / r.flash.ms / 1e9, flash_mem(r));
        if (r.has_standard) {
            std::printf(", \"standard_ms\": %.6f, \"standard_tflops\": %.4f, "
                        "\"standard_memory_bytes\": %.0f, \"speedup\": %.4f, "
                        "\"memory_reduction\": %.4f, \"max_abs_diff\": %.3g",
                        r.standard.ms, f / r.standard.ms / 1e9, standard_mem(r),
                        r.standard.ms / r.flash.ms, standard_mem(r) / flash_mem(r), r.max_diff);
        }
        if (r.has_backward) {
            std::printf(", \"backward_ms\": %.6f, \"backward_tflops\": %.4f", r.backward.ms,
                        2.5 * f / r.backward.ms / 1e9);
        }
        std::printf("}%s\n", i + 1 < rows.size() ? "," : "");
    }
    std::printf("]}\n");
}

}  // namespace

int main(int argc, char** argv) {
    Config base;
    std::string backend = "auto", dtype;
    std::vector<int64_t> sweep;
    int64_t tokens = 0, seqlen_k = 0;
    bool json = false, run_standard = true, run_backward = false;
    int threads = 0;
    bool batch_set = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "flashattn-bench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--backend") backend = next();
        else if (a == "--dtype") dtype = next();
        else if (a == "--batch") base.batch = std::atoll(next()), batch_set = true;
        else if (a == "--heads") base.heads = std::atoll(next());
        else if (a == "--heads-k") base.heads_k = std::atoll(next());
        else if (a == "--head-dim") base.head_dim = std::atoll(next());
        else if (a == "--seqlen") base.seqlen_q = std::atoll(next());
        else if (a == "--seqlen-k") seqlen_k = std::atoll(next());
        else if (a == "--tokens") tokens = std::atoll(next());
        else if (a == "--sweep") {
            std::string s = next();
            for (size_t p = 0; p < s.size();) {
                size_t e = s.find(',', p);
                if (e == std::string::npos) e = s.size();
                sweep.push_back(std::atoll(s.substr(p, e - p).c_str()));
                p = e + 1;
            }
        } else if (a == "--causal") base.causal = true;
        else if (a == "--backward") run_backward = true;
        else if (a == "--no-standard") run_standard = false;
        else if (a == "--warmup") base.warmup = std::atoi(next());
        else if (a == "--repeats") base.repeats = std::atoi(next());
        else if (a == "--threads") threads = std::atoi(next());
        else if (a == "--json") json = true;
        else if (a == "--help" || a == "-h") {
            usage();
            return 0;
        } else {
            std::fprintf(stderr, "flashattn-bench: unknown option %s\n", a.c_str());
            usage();
            return 2;
        }
    }
    if (threads > 0 && flash_attn_cpu_set_num_threads(threads) != FLASH_ATTN_SUCCESS) {
        std::fprintf(stderr, "flashattn-bench: %s\n", flash_attn_last_error());
        return 2;
    }

    std::string error;
    Runner* runner = flashattn::bench::make_runner(backend, &error);
    if (runner == nullptr) {
        std::fprintf(stderr, "flashattn-bench: %s\n", error.c_str());
        return 2;
    }
    if (std::string why; run_standard && !runner->standard_available(&why)) {
        std::fprintf(stderr, "flashattn-bench: %s\n", why.c_str());
        run_standard = false;
    }
    if (dtype.empty()) dtype = runner->default_dtype();
    if (!base.set_dtype(dtype)) {
        std::fprintf(stderr, "flashattn-bench: --dtype %s: f16, bf16 or f32\n", dtype.c_str());
        return 2;
    }
    if (base.heads_k == 0) base.heads_k = base.heads;
    if (sweep.empty()) sweep.push_back(base.seqlen_q);

    std::vector<Row> rows;
    for (size_t i = 0; i < sweep.size(); ++i) {
        Row r;
        r.c = base;
        r.c.seqlen_q = sweep[i];
        r.c.seqlen_k = seqlen_k > 0 ? seqlen_k : sweep[i];
        if (tokens > 0 && !batch_set) r.c.batch = std::max<int64_t>(1, tokens / sweep[i]);
        if (sweep.size() > 1) {
            std::fprintf(stderr, "\r[%zu/%zu] N=%lld ...", i + 1, sweep.size(),
                         (long long)sweep[i]);
            std::fflush(stderr);
        }
        if (!runner->prepare(r.c, &error) || !runner->flash_forward(&r.flash, &error) ||
            (run_standard && !runner->standard_forward(&r.standard, &r.max_diff, &error)) ||
            (run_backward && !runner->flash_backward(&r.backward, &error))) {
            std::fprintf(stderr, "\nflashattn-bench: %s\n", error.c_str());
            return 1;
        }
        r.has_standard = run_standard;
        r.has_backward = run_backward;
        rows.push_back(r);
    }
    if (sweep.size() > 1) std::fprintf(stderr, "\r%40s\r", "");
    if (json) print_json(rows, runner->device_name());
    else print_table(rows, runner->device_name());
    delete runner;
    return 0;
}
