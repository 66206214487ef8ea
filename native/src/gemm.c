/* Single-threaded float32 GEMM in the Goto/BLIS scheme, with an AVX2+FMA 6×16 micro-kernel and a portable one.
 * `CFLAGS=-DIJEPA_PORTABLE_ONLY npm run build:native` builds only the portable paths (what arm64 runs), so x86 can
 * run test/kernels/native_kernels.test.ts against them too. */
#include "gemm.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && !defined(IJEPA_PORTABLE_ONLY)
#include <immintrin.h>
#define IJEPA_X86 1
#endif

/*
 * Blocking (BLIS's Haswell/Zen sgemm sizes): a 6×16 register tile (12 ymm accumulators, two B vectors, one
 * broadcast); a packed A panel of 6×KC floats and a B strip of KC×16 (16 KiB) stay in L1 while the micro-kernel
 * runs, the MC×KC block of A (168 KiB) in L2, the KC×NC block of B in L3.
 *
 * Bits: each element of C is its init (0, the bias, or C) followed by one fused multiply-add per k in increasing
 * order. K chunks store C and reload it, which rounds nothing (the accumulators are float32), so neither the
 * blocking, the tile an element lies in, nor the vector width changes a bit: the AVX2 and portable kernels and
 * gemm.wat's relaxed-SIMD build (one FMA per k, in the same order) agree bit for bit on a CPU with FMA.
 */
#define MR 6
#define NR 16
#define KC 256
#define MC 168
#define NC 4080
/* Products with k <= KC, m <= MC and a B of at most this many floats (64 KiB) skip packing (small_gemm_avx2). */
#define SMALL_B_FLOATS 16384

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* Per thread (each replica is a worker thread): the packing buffers, grown as needed and kept. */
static _Thread_local float *pack_buffer;
static _Thread_local size_t pack_capacity;

static float *pack_space(size_t floats) {
  if (floats <= pack_capacity) return pack_buffer;
  size_t bytes = round_up(floats * sizeof(float), 64);
  float *grown = aligned_alloc(64, bytes);
  if (!grown) return NULL;
  free(pack_buffer);
  pack_buffer = grown;
  pack_capacity = bytes / sizeof(float);
  return pack_buffer;
}

/* Packs A[0..mc, 0..kc) into ceil(mc/MR) panels of kc×MR floats (k-major), rows past mc as zeros. */
static void pack_a(const float *a, ptrdiff_t rs, ptrdiff_t cs, size_t mc, size_t kc, float *dst) {
  for (size_t i0 = 0; i0 < mc; i0 += MR, dst += kc * MR) {
    size_t rows = min_size(MR, mc - i0);
    const float *src = a + (ptrdiff_t)i0 * rs;
    if (cs == 1) {
      /* A as stored: rows run along k, so read each row contiguously. */
      for (size_t r = 0; r < rows; r++)
        for (size_t p = 0; p < kc; p++) dst[p * MR + r] = src[(ptrdiff_t)r * rs + (ptrdiff_t)p];
    } else {
      for (size_t p = 0; p < kc; p++)
        for (size_t r = 0; r < rows; r++) dst[p * MR + r] = src[(ptrdiff_t)r * rs + (ptrdiff_t)p * cs];
    }
    for (size_t r = rows; r < MR; r++)
      for (size_t p = 0; p < kc; p++) dst[p * MR + r] = 0.0f;
  }
}

/* Packs B[0..kc, 0..nc) into ceil(nc/NR) strips of kc×NR floats (k-major), columns past nc as zeros. */
static void pack_b(const float *b, ptrdiff_t rs, ptrdiff_t cs, size_t kc, size_t nc, float *dst) {
  for (size_t j0 = 0; j0 < nc; j0 += NR, dst += kc * NR) {
    size_t cols = min_size(NR, nc - j0);
    const float *src = b + (ptrdiff_t)j0 * cs;
    if (cs == 1) {
      for (size_t p = 0; p < kc; p++) {
        memcpy(dst + p * NR, src + (ptrdiff_t)p * rs, cols * sizeof(float));
        for (size_t j = cols; j < NR; j++) dst[p * NR + j] = 0.0f;
      }
    } else {
      /* B transposed (stored n×k): each column runs along k. */
      for (size_t j = 0; j < cols; j++)
        for (size_t p = 0; p < kc; p++) dst[p * NR + j] = src[(ptrdiff_t)j * cs + (ptrdiff_t)p * rs];
      for (size_t j = cols; j < NR; j++)
        for (size_t p = 0; p < kc; p++) dst[p * NR + j] = 0.0f;
    }
  }
}

/* The MR×NR tile at c (row stride ldc floats) = init + Σ_p panel[p, 0..MR) ⊗ strip[p, 0..NR).
 * mode 0: init 0; 1: init C; 2: init the bias row (NR floats) in every row. */
typedef void micro_kernel(size_t kc, const float *pa, const float *pb, float *c, ptrdiff_t ldc, int mode,
                          const float *bias);

static void micro_portable(size_t kc, const float *pa, const float *pb, float *c, ptrdiff_t ldc, int mode,
                           const float *bias) {
  float acc[MR][NR];
  for (size_t r = 0; r < MR; r++)
    for (size_t j = 0; j < NR; j++)
      acc[r][j] = mode == 1 ? c[(ptrdiff_t)r * ldc + (ptrdiff_t)j] : mode == 2 ? bias[j] : 0.0f;
  for (size_t p = 0; p < kc; p++, pa += MR, pb += NR)
    for (size_t r = 0; r < MR; r++)
      for (size_t j = 0; j < NR; j++) acc[r][j] = fmaf(pa[r], pb[j], acc[r][j]);
  for (size_t r = 0; r < MR; r++)
    for (size_t j = 0; j < NR; j++) c[(ptrdiff_t)r * ldc + (ptrdiff_t)j] = acc[r][j];
}

#ifdef IJEPA_X86
__attribute__((target("avx2,fma"))) static void micro_avx2(size_t kc, const float *pa, const float *pb, float *c,
                                                           ptrdiff_t ldc, int mode, const float *bias) {
  __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
  if (mode == 1) {
    c00 = _mm256_loadu_ps(c), c01 = _mm256_loadu_ps(c + 8);
    c10 = _mm256_loadu_ps(c + ldc), c11 = _mm256_loadu_ps(c + ldc + 8);
    c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
    c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
    c40 = _mm256_loadu_ps(c + 4 * ldc), c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
    c50 = _mm256_loadu_ps(c + 5 * ldc), c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
  } else {
    __m256 i0 = mode == 2 ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    __m256 i1 = mode == 2 ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    c00 = c10 = c20 = c30 = c40 = c50 = i0;
    c01 = c11 = c21 = c31 = c41 = c51 = i1;
  }
  for (size_t p = 0; p < kc; p++, pa += MR, pb += NR) {
    __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8), a;
    a = _mm256_broadcast_ss(pa + 0), c00 = _mm256_fmadd_ps(a, b0, c00), c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(pa + 1), c10 = _mm256_fmadd_ps(a, b0, c10), c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(pa + 2), c20 = _mm256_fmadd_ps(a, b0, c20), c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(pa + 3), c30 = _mm256_fmadd_ps(a, b0, c30), c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(pa + 4), c40 = _mm256_fmadd_ps(a, b0, c40), c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(pa + 5), c50 = _mm256_fmadd_ps(a, b0, c50), c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  _mm256_storeu_ps(c, c00), _mm256_storeu_ps(c + 8, c01);
  _mm256_storeu_ps(c + ldc, c10), _mm256_storeu_ps(c + ldc + 8, c11);
  _mm256_storeu_ps(c + 2 * ldc, c20), _mm256_storeu_ps(c + 2 * ldc + 8, c21);
  _mm256_storeu_ps(c + 3 * ldc, c30), _mm256_storeu_ps(c + 3 * ldc + 8, c31);
  _mm256_storeu_ps(c + 4 * ldc, c40), _mm256_storeu_ps(c + 4 * ldc + 8, c41);
  _mm256_storeu_ps(c + 5 * ldc, c50), _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}
#endif

#ifdef IJEPA_X86
/*
 * Small products (the attention's, e.g. 49×64·64×49, where packing would cost as much as the arithmetic): the 6×16
 * tile read in place. A through its strides (rows past `rows` repeat the last row; their results are dropped), B as
 * row-major rows of stride b_rs (columns past `cols` masked to zero), C at c with row stride ldc. The same init and
 * one FMA per k in order as micro_avx2, so the bits are those of the packed path.
 */
__attribute__((target("avx2,fma"))) static void small_tile_avx2(size_t kc, const float *a, ptrdiff_t a_rs,
                                                                ptrdiff_t a_cs, size_t rows, const float *b,
                                                                ptrdiff_t b_rs, size_t cols, float *c, ptrdiff_t ldc,
                                                                int mode, const float *bias) {
  const float *ar[MR];
  for (size_t r = 0; r < MR; r++) ar[r] = a + (ptrdiff_t)(r < rows ? r : rows - 1) * a_rs;
  int32_t lanes[NR];
  for (int j = 0; j < NR; j++) lanes[j] = (size_t)j < cols ? -1 : 0;
  __m256i m0 = _mm256_loadu_si256((const __m256i *)lanes), m1 = _mm256_loadu_si256((const __m256i *)(lanes + 8));
  __m256 acc[MR][2];
  for (size_t r = 0; r < MR; r++) {
    const float *init = mode == 1 ? c + (ptrdiff_t)(r < rows ? r : rows - 1) * ldc : bias;
    acc[r][0] = mode == 0 ? _mm256_setzero_ps() : _mm256_maskload_ps(init, m0);
    acc[r][1] = mode == 0 ? _mm256_setzero_ps() : _mm256_maskload_ps(init + 8, m1);
  }
  __m256 c00 = acc[0][0], c01 = acc[0][1], c10 = acc[1][0], c11 = acc[1][1], c20 = acc[2][0], c21 = acc[2][1];
  __m256 c30 = acc[3][0], c31 = acc[3][1], c40 = acc[4][0], c41 = acc[4][1], c50 = acc[5][0], c51 = acc[5][1];
  const float *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
#define IJEPA_SMALL_STEP(B0, B1)                                                                                  \
  {                                                                                                              \
    __m256 b0 = B0, b1 = B1, x;                                                                                  \
    ptrdiff_t q = (ptrdiff_t)p * a_cs;                                                                           \
    x = _mm256_broadcast_ss(a0 + q), c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);      \
    x = _mm256_broadcast_ss(a1 + q), c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);      \
    x = _mm256_broadcast_ss(a2 + q), c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);      \
    x = _mm256_broadcast_ss(a3 + q), c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);      \
    x = _mm256_broadcast_ss(a4 + q), c40 = _mm256_fmadd_ps(x, b0, c40), c41 = _mm256_fmadd_ps(x, b1, c41);      \
    x = _mm256_broadcast_ss(a5 + q), c50 = _mm256_fmadd_ps(x, b0, c50), c51 = _mm256_fmadd_ps(x, b1, c51);      \
  }
  if (cols == NR) {
    for (size_t p = 0; p < kc; p++) {
      const float *bp = b + (ptrdiff_t)p * b_rs;
      IJEPA_SMALL_STEP(_mm256_loadu_ps(bp), _mm256_loadu_ps(bp + 8))
    }
  } else {
    for (size_t p = 0; p < kc; p++) {
      const float *bp = b + (ptrdiff_t)p * b_rs;
      IJEPA_SMALL_STEP(_mm256_maskload_ps(bp, m0), _mm256_maskload_ps(bp + 8, m1))
    }
  }
#undef IJEPA_SMALL_STEP
  __m256 out[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (size_t r = 0; r < rows; r++) {
    _mm256_maskstore_ps(c + (ptrdiff_t)r * ldc, m0, out[r][0]);
    _mm256_maskstore_ps(c + (ptrdiff_t)r * ldc + 8, m1, out[r][1]);
  }
}

/* C = op(A)·op(B) (+ bias, or + C) for products small enough to need no blocking (k <= KC, B within L2): B used in
 * place when its rows are contiguous, else transposed once into the packing buffer. Returns -1 without memory. */
static int small_gemm_avx2(const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs,
                           ptrdiff_t b_cs, float *c, const float *bias, size_t m, size_t k, size_t n, int accumulate) {
  if (b_cs != 1) {
    float *rows = pack_space(k * n);
    if (!rows) return -1;
    for (size_t j = 0; j < n; j++)
      for (size_t p = 0; p < k; p++) rows[p * n + j] = b[(ptrdiff_t)j * b_cs + (ptrdiff_t)p * b_rs];
    b = rows, b_rs = (ptrdiff_t)n;
  }
  int mode = accumulate ? 1 : bias ? 2 : 0;
  for (size_t j0 = 0; j0 < n; j0 += NR)
    for (size_t i0 = 0; i0 < m; i0 += MR)
      small_tile_avx2(k, a + (ptrdiff_t)i0 * a_rs, a_rs, a_cs, min_size(MR, m - i0), b + j0, b_rs,
                      min_size(NR, n - j0), c + (ptrdiff_t)(i0 * n + j0), (ptrdiff_t)n, mode, bias ? bias + j0 : NULL);
  return 0;
}
#endif

ijepa_tier ijepa_best_tier(void) {
#ifdef IJEPA_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return IJEPA_TIER_AVX2_FMA;
#endif
  return IJEPA_TIER_PORTABLE;
}

/* A tile at the bottom or right edge (rows < MR or cols < NR): the same micro-kernel on an MR×NR copy, so each
 * valid element sees the same operations as in a full tile; zeros (or the bias) outside the valid part. */
static void edge_tile(micro_kernel *kernel, size_t kc, const float *pa, const float *pb, float *c, ptrdiff_t ldc,
                      int mode, const float *bias, size_t rows, size_t cols) {
  _Alignas(64) float tile[MR * NR];
  for (size_t r = 0; r < MR; r++)
    for (size_t j = 0; j < NR; j++) {
      float init = 0.0f;
      if (mode == 1 && r < rows && j < cols) init = c[(ptrdiff_t)r * ldc + (ptrdiff_t)j];
      if (mode == 2 && j < cols) init = bias[j];
      tile[r * NR + j] = init;
    }
  kernel(kc, pa, pb, tile, NR, 1, NULL);
  for (size_t r = 0; r < rows; r++) memcpy(c + (ptrdiff_t)r * ldc, tile + r * NR, cols * sizeof(float));
}

int ijepa_gemm(ijepa_tier tier, const float *a, ptrdiff_t a_rs, ptrdiff_t a_cs, const float *b, ptrdiff_t b_rs,
               ptrdiff_t b_cs, float *c, const float *bias, size_t m, size_t k, size_t n, int accumulate) {
  micro_kernel *kernel = micro_portable;
#ifdef IJEPA_X86
  if (tier == IJEPA_TIER_AVX2_FMA && k <= KC && k * n <= SMALL_B_FLOATS && m <= MC)
    return small_gemm_avx2(a, a_rs, a_cs, b, b_rs, b_cs, c, bias, m, k, n, accumulate);
  if (tier == IJEPA_TIER_AVX2_FMA) kernel = micro_avx2;
#else
  (void)tier;
#endif
  /* K in equal chunks of at most KC (k = 384 as 2 × 192, not 256 + 128): a short last chunk reloads C for little. */
  size_t kc_max = (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);
  /* Rounded to 64 bytes: the micro-kernel loads B strips with aligned loads. */
  size_t a_floats = round_up(kc_max * min_size(round_up(m, MR), MC), 16);
  float *packa = pack_space(a_floats + kc_max * min_size(round_up(n, NR), NC));
  if (!packa) return -1;
  float *packb = packa + a_floats;
  ptrdiff_t ldc = (ptrdiff_t)n;
  for (size_t jc = 0; jc < n; jc += NC) {
    size_t nc = min_size(n - jc, NC);
    for (size_t p0 = 0; p0 < k; p0 += kc_max) {
      size_t kc = min_size(k - p0, kc_max);
      pack_b(b + (ptrdiff_t)p0 * b_rs + (ptrdiff_t)jc * b_cs, b_rs, b_cs, kc, nc, packb);
      int mode = p0 > 0 || accumulate ? 1 : bias ? 2 : 0;
      for (size_t ic = 0; ic < m; ic += MC) {
        size_t mc = min_size(m - ic, MC);
        pack_a(a + (ptrdiff_t)ic * a_rs + (ptrdiff_t)p0 * a_cs, a_rs, a_cs, mc, kc, packa);
        for (size_t jr = 0; jr < nc; jr += NR) {
          size_t cols = min_size(nc - jr, NR);
          const float *strip = packb + (jr / NR) * kc * NR;
          const float *bp = bias ? bias + jc + jr : NULL;
          for (size_t ir = 0; ir < mc; ir += MR) {
            size_t rows = min_size(mc - ir, MR);
            const float *panel = packa + (ir / MR) * kc * MR;
            float *cp = c + (ptrdiff_t)(ic + ir) * ldc + (ptrdiff_t)(jc + jr);
            if (rows == MR && cols == NR) kernel(kc, panel, strip, cp, ldc, mode, bp);
            else edge_tile(kernel, kc, panel, strip, cp, ldc, mode, bp, rows, cols);
          }
        }
      }
    }
  }
  return 0;
}

int ijepa_batch_gemm(ijepa_tier tier, const float *a, const float *b, float *c, size_t batch, size_t m, size_t k,
                     size_t n, int transpose_a, int transpose_b) {
  ptrdiff_t a_rs = transpose_a ? 1 : (ptrdiff_t)k, a_cs = transpose_a ? (ptrdiff_t)m : 1;
  ptrdiff_t b_rs = transpose_b ? 1 : (ptrdiff_t)n, b_cs = transpose_b ? (ptrdiff_t)k : 1;
  for (size_t i = 0; i < batch; i++)
    if (ijepa_gemm(tier, a + i * m * k, a_rs, a_cs, b + i * k * n, b_rs, b_cs, c + i * m * n, NULL, m, k, n, 0))
      return -1;
  return 0;
}

void ijepa_column_sums(const float *x, size_t rows, size_t cols, float *out) {
  /* Per column: total = 0; for each block of 64 rows, block = 0 + x[i0] + x[i0+1] + ..., total += block. The
   * inner loop runs across columns, so the compiler vectorizes it without reordering any column's sum. */
  enum { BLOCK = 64, WIDTH = 512 };
  float block[WIDTH], total[WIDTH];
  for (size_t j0 = 0; j0 < cols; j0 += WIDTH) {
    size_t w = min_size(cols - j0, WIDTH);
    for (size_t j = 0; j < w; j++) total[j] = 0.0f;
    for (size_t i0 = 0; i0 < rows; i0 += BLOCK) {
      size_t r = min_size(rows - i0, BLOCK);
      for (size_t j = 0; j < w; j++) block[j] = 0.0f;
      for (size_t i = i0; i < i0 + r; i++) {
        const float *row = x + i * cols + j0;
        for (size_t j = 0; j < w; j++) block[j] += row[j];
      }
      for (size_t j = 0; j < w; j++) total[j] += block[j];
    }
    memcpy(out + j0, total, w * sizeof(float));
  }
}
