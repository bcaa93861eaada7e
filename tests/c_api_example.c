/* The README's C example, compiled as C (checking the header is valid C) and run as a test:
 * causal self-attention over random f32 tensors, checked against a naive computation. */
#include <flashattn/flashattn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { B = 1, S = 64, H = 4, D = 32 };

int main(void) {
    size_t n = (size_t)B * S * H * D;
    float* q = malloc(n * sizeof(float));
    float* k = malloc(n * sizeof(float));
    float* v = malloc(n * sizeof(float));
    float* out = malloc(n * sizeof(float));
    float* lse = malloc((size_t)B * H * S * sizeof(float));
    srand(7);
    for (size_t i = 0; i < n; ++i) {
        q[i] = (float)rand() / RAND_MAX - 0.5f;
        k[i] = (float)rand() / RAND_MAX - 0.5f;
        v[i] = (float)rand() / RAND_MAX - 0.5f;
    }

    FlashAttnForwardArgs args;
    flash_attn_forward_args_init(&args);  /* zeroes it, sets struct_size; zero strides = packed */
    args.dtype = FLASH_ATTN_DTYPE_F32;
    args.causal = 1;
    args.batch = B;
    args.seqlen_q = args.seqlen_k = S;
    args.num_heads_q = args.num_heads_k = H;
    args.head_dim = D;
    args.softmax_scale = 1.0f / sqrtf((float)D);
    args.q = q;
    args.k = k;
    args.v = v;
    args.out = out;
    args.lse = lse; /* optional */

    int status = flash_attn_fwd(&args);
    if (status != FLASH_ATTN_SUCCESS) {
        fprintf(stderr, "flash_attn_fwd: %s: %s\n", flash_attn_status_string(status),
                flash_attn_last_error());
        return 1;
    }

    /* Check head 1, query 10 against a naive computation. */
    int h = 1, i = 10;
    double w[S], sum = 0, worst = 0;
    for (int j = 0; j <= i; ++j) {
        double s = 0;
        for (int c = 0; c < D; ++c) s += q[(i * H + h) * D + c] * k[(j * H + h) * D + c];
        w[j] = exp(s * args.softmax_scale);
        sum += w[j];
    }
    for (int c = 0; c < D; ++c) {
        double o = 0;
        for (int j = 0; j <= i; ++j) o += w[j] / sum * v[(j * H + h) * D + c];
        double e = fabs(o - out[(i * H + h) * D + c]);
        if (e > worst) worst = e;
    }
    double lse_err = fabs(log(sum) - lse[h * S + i]);
    printf("max error %.2e, lse error %.2e\n", worst, lse_err);
    free(q), free(k), free(v), free(out), free(lse);
    return worst < 1e-5 && lse_err < 1e-5 ? 0 : 1;
}
