#include "bench_runner.h"

namespace flashattn::bench {
Runner* make_cuda_runner(std::string* error) {
    *error = "this build has no CUDA backend";
    return nullptr;
}
}  // namespace flashattn::bench
