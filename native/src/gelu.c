/* Exact GELU forward and backward, operation for operation as elementwise.wat's (same constants, same order, no
 * fused multiply-adds: binding.gyp builds with -ffp-contract=off), so both tiers give the same bits. */
#include "gelu.h"

#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && !defined(IJEPA_PORTABLE_ONLY)
#include <immintrin.h>
#define IJEPA_X86 1
#endif

/* Scalar lanes: the portable path and the last 1–7 floats of the AVX2 one. */
static float exp_lane(float x) {
  /* max(min(x, 88), −87), NaN kept as wasm's f32x4.min/max keep it */
  x = x < 88.0f ? x : x != x ? x : 88.0f;
  x = x > -87.0f ? x : x != x ? x : -87.0f;
  float t = x * 1.44269504f + 12582912.0f;
  float n = t - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = r * r * p + r + 1.0f;
  int32_t bits;
  memcpy(&bits, &t, sizeof bits);
  bits = (int32_t)((uint32_t)(bits + 127) << 23);
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

static float phi_lane(float x) {
  float z = (x < 0 ? -x : x) * 0.70710678f;
  float t = 1.0f / (1.0f + z * 0.5f);
  float p = 0.17087277f;
  p = p * t + -0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t + -1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t + -0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t + -1.26551223f;
  float half_erfc = t * 0.5f * exp_lane(p - z * z);
  return x > 0.0f ? 1.0f - half_erfc : half_erfc;
}

static float gelu_grad_lane(float x, float dy) {
  return dy * (phi_lane(x) + x * 0.39894228f * exp_lane(x * x * -0.5f));
}

#ifdef IJEPA_X86
#define TARGET __attribute__((target("avx2,fma")))
#define SPLAT _mm256_set1_ps

TARGET static __m256 exp8(__m256 x) {
  /* minps/maxps return their second operand when either is NaN: the constant first keeps a NaN x, as wasm does. */
  x = _mm256_max_ps(SPLAT(-87.0f), _mm256_min_ps(SPLAT(88.0f), x));
  __m256 t = _mm256_add_ps(_mm256_mul_ps(x, SPLAT(1.44269504f)), SPLAT(12582912.0f));
  __m256 n = _mm256_sub_ps(t, SPLAT(12582912.0f));
  __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, SPLAT(0.693359375f)));
  r = _mm256_sub_ps(r, _mm256_mul_ps(n, SPLAT(-2.12194440e-4f)));
  __m256 p = SPLAT(1.9875691500e-4f);
  p = _mm256_add_ps(_mm256_mul_ps(p, r), SPLAT(1.3981999507e-3f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), SPLAT(8.3334519073e-3f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), SPLAT(4.1665795894e-2f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), SPLAT(1.6666665459e-1f));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), SPLAT(5.0000001201e-1f));
  p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(r, r), p), r), SPLAT(1.0f));
  __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

TARGET static __m256 phi8(__m256 x) {
  __m256 abs = _mm256_andnot_ps(SPLAT(-0.0f), x);
  __m256 z = _mm256_mul_ps(abs, SPLAT(0.70710678f));
  __m256 t = _mm256_div_ps(SPLAT(1.0f), _mm256_add_ps(SPLAT(1.0f), _mm256_mul_ps(z, SPLAT(0.5f))));
  __m256 p = SPLAT(0.17087277f);
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(-0.82215223f));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(1.48851587f));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(-1.13520398f));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(0.27886807f));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(-0.18628806f));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(0.09678418f));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(0.37409196f));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(1.00002368f));
  p = _mm256_add_ps(_mm256_mul_ps(p, t), SPLAT(-1.26551223f));
  __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(t, SPLAT(0.5f)), exp8(_mm256_sub_ps(p, _mm256_mul_ps(z, z))));
  __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
  return _mm256_blendv_ps(half_erfc, _mm256_sub_ps(SPLAT(1.0f), half_erfc), positive);
}

TARGET static void gelu_forward_avx2(const float *x, float *y, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(v, phi8(v)));
  }
  for (; i < count; i++) y[i] = x[i] * phi_lane(x[i]);
}

TARGET static void gelu_backward_avx2(const float *x, const float *dy, float *dx, size_t count) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 gaussian = _mm256_mul_ps(_mm256_mul_ps(v, SPLAT(0.39894228f)),
                                    exp8(_mm256_mul_ps(_mm256_mul_ps(v, v), SPLAT(-0.5f))));
    _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), _mm256_add_ps(phi8(v), gaussian)));
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
  for (size_t i = 0; i < count; i++) y[i] = x[i] * phi_lane(x[i]);
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
