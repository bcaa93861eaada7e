// A persistent pool of worker threads for the CPU backend. parallel_for hands out task indices
// dynamically; the calling thread works too. Calls from several threads are serialized, and a
// call from inside a task runs inline (no deadlock on nesting).
#pragma once

#include <cstdint>
#include <functional>

namespace flashattn::cpu {

// Runs fn(task, worker) for task in [0, n); worker is in [0, max_workers) and identifies the
// thread, so callers can index per-thread scratch sized for max_workers (usually the
// num_threads() read when the scratch was sized; fewer threads may take part).
void parallel_for(int64_t n, int max_workers,
                  const std::function<void(int64_t task, int worker)>& fn);

int num_threads();
void set_num_threads(int n);  // 0: every core the process may run on

}  // namespace flashattn::cpu
