/* Exact GELU forward and backward, operation for operation as elementwise.wat's (same constants, same order, no
 * fused multiply-adds: binding.gyp builds with -ffp-contract=off), so both tiers give the same bits. For a = |x| and
 * t = 1/(1 + 0.3a): h = Φ(−a) = t·R(t)·2^s with s = −log2(e)·a²/2, R and the 2^r polynomial E fitted as the .wat's
 * header comment says; y = max(x, 0) − a·h, dx = dy·(Φ(x) + x·φ(x)) with φ(x) = 2^s/√(2π). wasm's pmin(a, b) is
 * b < a ? b : a and pmax(a, b) is a < b ? b : a, which x86's minps/maxps give with the operands swapped. */
#include "gelu.h"

#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && !defined(IJEPA_PORTABLE_ONLY)
#include <immintrin.h>
#define IJEPA_X86 1
#endif

#define C_BIG 1e30f
#define C_K 0.3f
#define C_S -0.72134752f
#define C_S_MIN -127.0f
#define C_MAGIC 12583039.0f
#define C_PHI 0.398942280f
#define R0 0.119626395f
#define R1 0.120798364f
#define R2 0.0996375158f
#define R3 0.129469141f
#define R4 -0.0553937294f
#define R5 0.208206475f
#define R6 -0.158275932f
#define R7 0.0359317251f
#define E0 1.00000012f
#define E1 0.693146944f
#define E2 0.240221202f
#define E3 0.0555071309f
#define E4 0.00967554096f
#define E5 0.00132764725f

static float pmin(float a, float b) { return b < a ? b : a; }
static float pmax(float a, float b) { return a < b ? b : a; }

/* Scalar lanes (the portable path and the last 1–7 floats of the AVX2 one): a, h and q = 2^s for x. */
static void core_lane(float x, float *a_out, float *h_out, float *q_out) {
  uint32_t magnitude; /* |x| as f32x4.abs takes it: the sign bit cleared, NaNs included */
  memcpy(&magnitude, &x, sizeof magnitude);
  magnitude &= 0x7fffffffu;
  float a;
  memcpy(&a, &magnitude, sizeof a);
  a = pmin(a, C_BIG);
  float t = 1.0f / (a * C_K + 1.0f);
  float s = pmax(a * a * C_S, C_S_MIN);
  float p = t * R7 + R6;
  p = p * t + R5;
  p = p * t + R4;
  p = p * t + R3;
  p = p * t + R2;
  p = p * t + R1;
  p = p * t + R0;
  float e = s + C_MAGIC;
  float r = s - (e - C_MAGIC);
  float q = r * E5 + E4;
  q = q * r + E3;
  q = q * r + E2;
  q = q * r + E1;
  q = q * r + E0;
  int32_t bits;
  memcpy(&bits, &e, sizeof bits);
  bits = (int32_t)((uint32_t)bits << 23);
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  q = q * scale;
  *a_out = a;
  *h_out = t * p * q;
  *q_out = q;
}

static float gelu_lane(float x) {
  float a, h, q;
  core_lane(x, &a, &h, &q);
  return pmax(x, 0.0f) - a * h;
}

static float gelu_grad_lane(float x, float dy) {
  float a, h, q;
  core_lane(x, &a, &h, &q);
  return dy * ((x > 0.0f ? 1.0f - h : h) + x * q * C_PHI);
}

#ifdef IJEPA_X86
#define TARGET __attribute__((target("avx2,fma")))
#define SPLAT _mm256_set1_ps

/* h = Φ(−|x|) and q = 2^s for 8 lanes; a = |x| capped. */
TARGET static inline void core8(__m256 x, __m256 *a_out, __m256 *h_out, __m256 *q_out) {
  __m256 a = _mm256_min_ps(SPLAT(C_BIG), _mm256_andnot_ps(SPLAT(-0.0f), x));
  __m256 t = _mm256_div_ps(SPLAT(1.0f), _mm256_add_ps(_mm256_mul_ps(a, SPLAT(C_K)), SPLAT(1.0f)));
  __m256 s = _mm256_max_ps(SPLAT(C_S_MIN), _mm256_mul_ps(_mm256_mul_ps(a, a), SPLAT(C_S)));
  __m256 p = _mm256_add_ps(_mm256_mul_ps(t, SPLAT(R7)), SPLAT(R6));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(R5));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(R4));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(R3));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(R2));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(R1));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(R0));
  __m256 e = _mm256_add_ps(s, SPLAT(C_MAGIC));
  __m256 r = _mm256_sub_ps(s, _mm256_sub_ps(e, SPLAT(C_MAGIC)));
  __m256 q = _mm256_add_ps(_mm256_mul_ps(r, SPLAT(E5)), SPLAT(E4));
  q = _mm256_add_ps(_mm256_mul_ps(q, r), SPLAT(E3));
  q = _mm256_add_ps(_mm256_mul_ps(q, r), SPLAT(E2));
  q = _mm256_add_ps(_mm256_mul_ps(q, r), SPLAT(E1));
  q = _mm256_add_ps(_mm256_mul_ps(q, r), SPLAT(E0));
  q = _mm256_mul_ps(q, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(e), 23)));
  *a_out = a;
  *h_out = _mm256_mul_ps(_mm256_mul_ps(t, p), q);
  *q_out = q;
}

TARGET static void gelu_forward_avx2(const float *x, float *y, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i), a, h, q;
    core8(v, &a, &h, &q);
    _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_max_ps(_mm256_setzero_ps(), v), _mm256_mul_ps(a, h)));
  }
  for (; i < count; i++) y[i] = gelu_lane(x[i]);
}

TARGET static void gelu_backward_avx2(const float *x, const float *dy, float *dx, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i), a, h, q;
    core8(v, &a, &h, &q);
    __m256 positive = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ);
    __m256 phi = _mm256_blendv_ps(h, _mm256_sub_ps(SPLAT(1.0f), h), positive);
    __m256 gaussian = _mm256_mul_ps(_mm256_mul_ps(v, q), SPLAT(C_PHI));
    _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), _mm256_add_ps(phi, gaussian)));
  }
  for (; i < count; i++) dx[i] = gelu_grad_lane(x[i], dy[i]);
}
#endif

void ijepa_gelu_forward(ijepa_tier tier, const float *x, float *y, size_t count) {
#ifdef IJEPA_X86
  if (tier == IJEPA_TIER_AVX2_FMA) {
    gelu_forward_avx2(x, y, count);
    return;
  }
#endif
  (void)tier;
  for (size_t i = 0; i < count; i++) y[i] = gelu_lane(x[i]);
}

void ijepa_gelu_backward(ijepa_tier tier, const float *x, const float *dy, float *dx, size_t count) {
#ifdef IJEPA_X86
  if (tier == IJEPA_TIER_AVX2_FMA) {
    gelu_backward_avx2(x, dy, dx, count);
    return;
  }
#endif
  (void)tier;
  for (size_t i = 0; i < count; i++) dx[i] = gelu_grad_lane(x[i], dy[i]);
}
