#include "cpu/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "api/backend.h"

namespace flashattn::cpu {
namespace {

int default_threads() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
    return std::max(1u, std::thread::hardware_concurrency());
}

thread_local bool t_in_pool = false;

class Pool {
public:
    ~Pool() { stop_workers(); }

    int size() const {
        const int w = wanted_.load();
        return w > 0 ? w : default_threads();
    }

    // Takes effect at the next parallel_for.
    void resize(int n) { wanted_.store(n); }

    void run(int64_t n, int max_workers, const std::function<void(int64_t, int)>& fn) {
        if (n <= 0) return;
        if (t_in_pool) {  // nested: run inline on this worker
            for (int64_t i = 0; i < n; ++i) fn(i, current_worker_);
            return;
        }
        std::lock_guard<std::mutex> call(call_mutex_);
        const int want = size();
        if (static_cast<int>(workers_.size()) + 1 != want) {
            stop_workers();
            start_workers(want - 1);
        }
        if (workers_.empty() || n == 1 || max_workers <= 1) {
            t_in_pool = true;
            current_worker_ = 0;
            for (int64_t i = 0; i < n; ++i) fn(i, 0);
            t_in_pool = false;
            return;
        }
        {
            std::lock_guard<std::mutex> lk(m_);
            fn_ = &fn;
            n_ = n;
            limit_ = max_workers;
            next_.store(0);
            active_ = static_cast<int>(workers_.size());
            ++generation_;
        }
        cv_.notify_all();
        work(0);
        std::unique_lock<std::mutex> lk(m_);
        done_cv_.wait(lk, [&] { return active_ == 0; });
        fn_ = nullptr;
    }

private:
    void work(int worker) {
        if (worker >= limit_) return;
        t_in_pool = true;
        current_worker_ = worker;
        for (int64_t i; (i = next_.fetch_add(1)) < n_;) (*fn_)(i, worker);
        t_in_pool = false;
    }

    void worker_loop(int worker) {
        uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> lk(m_);
                cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
                if (stop_) return;
                seen = generation_;
            }
            work(worker);
            std::lock_guard<std::mutex> lk(m_);
            if (--active_ == 0) done_cv_.notify_one();
        }
    }

    void start_workers(int count) {
        stop_ = false;
        for (int i = 0; i < count; ++i) workers_.emplace_back([this, i] { worker_loop(i + 1); });
    }

    void stop_workers() {
        {
            std::lock_guard<std::mutex> lk(m_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : workers_) t.join();
        workers_.clear();
    }

    std::mutex call_mutex_;  // one parallel_for at a time
    std::mutex m_;
    std::condition_variable cv_, done_cv_;
    std::vector<std::thread> workers_;
    const std::function<void(int64_t, int)>* fn_ = nullptr;
    int64_t n_ = 0;
    int limit_ = 0;  // workers at or past this index sit the job out
    std::atomic<int64_t> next_{0};
    int active_ = 0;
    uint64_t generation_ = 0;
    bool stop_ = false;
    std::atomic<int> wanted_{0};
    static thread_local int current_worker_;
};

thread_local int Pool::current_worker_ = 0;

Pool& pool() {
    static Pool p;
    return p;
}

}  // namespace

void parallel_for(int64_t n, int max_workers, const std::function<void(int64_t, int)>& fn) {
    pool().run(n, max_workers, fn);
}
int num_threads() { return pool().size(); }
void set_num_threads(int n) { pool().resize(n); }

}  // namespace flashattn::cpu
