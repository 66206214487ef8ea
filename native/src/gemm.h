/* The native GEMM's entry points (gemm.c), called by the N-API binding (binding.c) on tfjs-wasm's heap. */
#ifndef IJEPA_GEMM_H
#define IJEPA_GEMM_H

#include <stddef.h>

/* Which micro-kernel runs: AVX2+FMA where the CPU has both, else the portable C one (fmaf per element). */
typedef enum { IJEPA_TIER_PORTABLE = 0, IJEPA_TIER_AVX2_FMA = 1 } ijepa_tier;

ijepa_tier ijepa_best_tier(void);

/*
 * C[m×n] (row-major, n columns) = op(A)·op(B) + (C itself if accumulate, else bias[0..n) if bias, else 0).
 * A[i, p] at a + i·a_rs + p·a_cs, B[p, j] at b + p·b_rs + j·b_cs (strides in floats). Each element of C is
 * init followed by one fused multiply-add per p in increasing order, so its bits do not depend on where it lies.
 * Returns 0, or -1 when the packing buffers cannot be allocated.
 */
int ijepa_gemm(ijepa_tier tier, const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs,
               ptrdiff_t b_cs, float *c, const float *bias, size_t m, size_t k, size_t n, int accumulate);

/* C[b] = op(A[b])·op(B[b]) for b < batch, each matrix row-major and packed one after another (A[b] m×k, or k×m
 * when transposed; B[b] k×n, or n×k): the attention products. Same per-element order as ijepa_gemm. */
int ijepa_batch_gemm(ijepa_tier tier, const float *a, const float *b, float *c, size_t batch, size_t m, size_t k,
                     size_t n, int transpose_a, int transpose_b);

/* out[j] = Σ_i x[i, j] for x rows×cols row-major, in blocks of 64 rows added in order (as gemm.wat's column_sums). */
void ijepa_column_sums(const float *x, size_t rows, size_t cols, float *out);

#endif
