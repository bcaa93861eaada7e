// Block-level building blocks of the CPU backend. Each is compiled for several x86 ISA levels
// (AVX-512, AVX2+FMA, baseline) and the loader picks the best the machine has, so the library
// stays portable while its inner loops use the widest vectors available.
//
// Buffer convention: float blocks are row-major, 64-byte aligned, with leading dimensions
// (ld*) that are multiples of kPanel floats. Columns past the logical width are padding.
#pragma once

#include <cstdint>

#include "common/problem.h"

namespace flashattn::cpu {

constexpr int kPanel = 16;  // floats per GEMM column panel: the blocks' layout unit

constexpr int round_up_panel(int64_t n) { return static_cast<int>((n + kPanel - 1) / kPanel * kPanel); }

// C[m x n] = A[m x k] * B[k x n] (accumulate: C +=). n is a multiple of kPanel; B and C are
// aligned blocks as above; A is any row-major block.
void gemm(int m, int n, int k, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
          bool accumulate);

// One step of the online softmax over a block of scores S[rows x ncols] (ncols a multiple
// of kPanel). Row r sees its first
// nvis[r] columns; the rest are masked. Scores are scaled by scale_log2 (softmax_scale *
// log2(e)) so exponentials are exp2. Updates the running max m[r] (log2 units) and sum l[r],
// rescales the output accumulator O[r, 0:ocols] by the change in max, and leaves the
// unnormalized probabilities in S (0 where masked).
void online_softmax_block(float* S, int lds, int rows, int ncols, const int* nvis,
                          float scale_log2, float* m, float* l, float* O, int ldo, int ocols);

// Recomputes probabilities from saved statistics: S <- exp2(S * scale_log2 - lse_log2[r]),
// 0 past nvis[r].
void probabilities_block(float* S, int lds, int rows, int ncols, const int* nvis, float scale_log2,
                         const float* lse_log2);

// dP <- P * (dP - delta[r]): the softmax backward, in place.
void softmax_grad_block(const float* P, float* dP, int ld, int rows, int ncols,
                        const float* delta);

// dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols.
void transpose(int rows, int cols, const float* src, int lds, float* dst, int ldd);

// Row conversions between a tensor of `dtype` (elements at base + offset ...) and float.
void load_row(DType dtype, const void* base, int64_t offset, int n, float* dst);
// Writes the row as a column: dst[c * ldd] = x[c].
void load_row_as_column(DType dtype, const void* base, int64_t offset, int n, float* dst, int ldd);
void store_row(DType dtype, void* base, int64_t offset, int n, const float* src, float scale);

// sum_c a[c] * b[c] of two tensor rows, in float.
float dot_rows(DType dtype, const void* a, int64_t a_offset, const void* b, int64_t b_offset, int n);

}  // namespace flashattn::cpu
