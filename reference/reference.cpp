#include "reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace flashattn::ref {
namespace {

struct Index {
    const Dims& d;
    int64_t q(int64_t b, int64_t i, int64_t h) const {
        return ((b * d.seqlen_q + i) * d.heads_q + h) * d.head_dim;
    }
    int64_t kv(int64_t b, int64_t j, int64_t h) const {
        return ((b * d.seqlen_k + j) * d.heads_k + h) * d.head_dim;
    }
    bool visible(int64_t i, int64_t j) const {
        return !d.causal || j <= i + d.seqlen_k - d.seqlen_q;
    }
};

// P [sq x sk] of one (batch, query head); rows that see no key are all zero. Returns LSEs.
std::vector<double> probabilities(const Dims& d, const Index& ix, const double* q,
                                  const double* k, int64_t b, int64_t h, std::vector<double>& P) {
    const int64_t hk = h / (d.heads_q / d.heads_k);
    std::vector<double> lse(d.seqlen_q);
    P.assign(d.seqlen_q * d.seqlen_k, 0.0);
    for (int64_t i = 0; i < d.seqlen_q; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        double* p = &P[i * d.seqlen_k];
        for (int64_t j = 0; j < d.seqlen_k; ++j) {
            if (!ix.visible(i, j)) continue;
            double s = 0.0;
            for (int64_t c = 0; c < d.head_dim; ++c) s += q[ix.q(b, i, h) + c] * k[ix.kv(b, j, hk) + c];
            p[j] = s * d.scale;
            mx = std::max(mx, p[j]);
        }
        if (std::isinf(mx)) {
            lse[i] = -std::numeric_limits<double>::infinity();
            continue;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < d.seqlen_k; ++j) {
            p[j] = ix.visible(i, j) ? std::exp(p[j] - mx) : 0.0;
            sum += p[j];
        }
        for (int64_t j = 0; j < d.seqlen_k; ++j) p[j] /= sum;
        lse[i] = mx + std::log(sum);
    }
    return lse;
}

}  // namespace

void forward(const Dims& d, const double* q, const double* k, const double* v, double* out,
             double* lse) {
    const Index ix{d};
    std::vector<double> P;
    for (int64_t b = 0; b < d.batch; ++b) {
        for (int64_t h = 0; h < d.heads_q; ++h) {
            const int64_t hk = h / (d.heads_q / d.heads_k);
            const std::vector<double> l = probabilities(d, ix, q, k, b, h, P);
            for (int64_t i = 0; i < d.seqlen_q; ++i) {
                if (lse) lse[(b * d.heads_q + h) * d.seqlen_q + i] = l[i];
                double* o = out + ix.q(b, i, h);
                std::fill(o, o + d.head_dim, 0.0);
                for (int64_t j = 0; j < d.seqlen_k; ++j) {
                    const double p = P[i * d.seqlen_k + j];
                    for (int64_t c = 0; c < d.head_dim; ++c) o[c] += p * v[ix.kv(b, j, hk) + c];
                }
            }
        }
    }
}

void backward(const Dims& d, const double* q, const double* k, const double* v,
              const double* dout, double* dq, double* dk, double* dv) {
    const Index ix{d};
    const int64_t nq = d.batch * d.seqlen_q * d.heads_q * d.head_dim;
    const int64_t nk = d.batch * d.seqlen_k * d.heads_k * d.head_dim;
    std::fill(dq, dq + nq, 0.0);
    std::fill(dk, dk + nk, 0.0);
    std::fill(dv, dv + nk, 0.0);
    std::vector<double> P, dP;
    for (int64_t b = 0; b < d.batch; ++b) {
        for (int64_t h = 0; h < d.heads_q; ++h) {
            const int64_t hk = h / (d.heads_q / d.heads_k);
            probabilities(d, ix, q, k, b, h, P);
            dP.assign(d.seqlen_q * d.seqlen_k, 0.0);
            for (int64_t i = 0; i < d.seqlen_q; ++i) {
                const double* go = dout + ix.q(b, i, h);
                // dV += P^T dO;  dP = dO V^T
                for (int64_t j = 0; j < d.seqlen_k; ++j) {
                    const double p = P[i * d.seqlen_k + j];
                    double s = 0.0;
                    for (int64_t c = 0; c < d.head_dim; ++c) {
                        dv[ix.kv(b, j, hk) + c] += p * go[c];
                        s += go[c] * v[ix.kv(b, j, hk) + c];
                    }
                    dP[i * d.seqlen_k + j] = s;
                }
                // dS = P * (dP - sum_j P dP): the softmax Jacobian, from P and dP directly.
                double row = 0.0;
                for (int64_t j = 0; j < d.seqlen_k; ++j)
                    row += P[i * d.seqlen_k + j] * dP[i * d.seqlen_k + j];
                for (int64_t j = 0; j < d.seqlen_k; ++j) {
                    const double ds = P[i * d.seqlen_k + j] * (dP[i * d.seqlen_k + j] - row);
                    for (int64_t c = 0; c < d.head_dim; ++c) {
                        dq[ix.q(b, i, h) + c] += d.scale * ds * k[ix.kv(b, j, hk) + c];
                        dk[ix.kv(b, j, hk) + c] += d.scale * ds * q[ix.q(b, i, h) + c];
                    }
                }
            }
        }
    }
}

}  // namespace flashattn::ref
