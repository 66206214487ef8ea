/* LayerNorm forward and backward, operation for operation as elementwise.wat's: the row sums in four lanes of
 * partial sums (the tail adding zeros to the lanes it does not fill) and then lane (0 + 1) + (2 + 3), everything
 * else element-wise, no contraction (binding.gyp). Plain C: the compiler vectorizes the lane-wise loops without
 * reordering any sum, and the bits are elementwise.wat's on every CPU. */
#include "layer_norm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float lanes_total(const float acc[4]) { return (acc[0] + acc[1]) + (acc[2] + acc[3]); }

void ijepa_layer_norm_forward(const float *x, const float *gamma, const float *beta, float *y, float *stats,
                              size_t rows, size_t cols, float eps) {
  float n = (float)cols;
  for (size_t r = 0; r < rows; r++, x += cols, y += cols) {
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    size_t j = 0;
    for (; j + 4 <= cols; j += 4)
      for (int l = 0; l < 4; l++) acc[l] += x[j + l];
    if (j < cols)
      for (size_t l = 0; l < 4; l++) acc[l] += j + l < cols ? x[j + l] : 0.0f;
    float mean = lanes_total(acc) / n;
    float var[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (j = 0; j + 4 <= cols; j += 4)
      for (int l = 0; l < 4; l++) {
        float d = x[j + l] - mean;
        var[l] += d * d;
      }
    if (j < cols)
      for (size_t l = 0; l < 4; l++) {
        float d = j + l < cols ? x[j + l] - mean : 0.0f;
        var[l] += d * d;
      }
    float rstd = 1.0f / sqrtf(lanes_total(var) / n + eps);
    if (stats) stats[2 * r] = mean, stats[2 * r + 1] = rstd;
    if (gamma)
      for (j = 0; j < cols; j++) y[j] = (x[j] - mean) * rstd * gamma[j] + beta[j];
    else
      for (j = 0; j < cols; j++) y[j] = (x[j] - mean) * rstd;
  }
}

int ijepa_layer_norm_backward(const float *x, const float *gamma, const float *dy, const float *stats, float *dx,
                              float *dgamma, float *dbeta, size_t rows, size_t cols) {
  /* dγ and dβ: block sums over 64 rows, folded into the totals in order (as column_sums). */
  float *block_g = calloc(2 * cols, sizeof(float));
  if (!block_g) return -1;
  float *block_b = block_g + cols;
  memset(dgamma, 0, cols * sizeof(float));
  memset(dbeta, 0, cols * sizeof(float));
  float inv_n = 1.0f / (float)cols;
  for (size_t r = 0; r < rows; r++, x += cols, dy += cols, dx += cols) {
    float mean = stats[2 * r], rstd = stats[2 * r + 1];
    float sg[4] = {0.0f, 0.0f, 0.0f, 0.0f}, sgx[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    size_t j = 0;
    for (; j < cols; j += 4) {
      for (size_t l = 0; l < 4; l++) {
        if (j + l >= cols) {
          /* wasm's zeroed tail lanes: g = 0·0 and x̂ masked to 0 add +0 */
          sg[l] += 0.0f, sgx[l] += 0.0f;
          continue;
        }
        float xh = (x[j + l] - mean) * rstd, g = dy[j + l] * gamma[j + l];
        sg[l] += g;
        sgx[l] += g * xh;
        block_g[j + l] += dy[j + l] * xh;
        block_b[j + l] += dy[j + l];
      }
    }
    float mg = inv_n * lanes_total(sg), mgx = inv_n * lanes_total(sgx);
    for (j = 0; j < cols; j++) {
      float xh = (x[j] - mean) * rstd, g = dy[j] * gamma[j];
      dx[j] = rstd * ((g - mg) - xh * mgx);
    }
    if ((r + 1) % 64 == 0 || r + 1 == rows)
      for (j = 0; j < cols; j++) {
        dgamma[j] += block_g[j], dbeta[j] += block_b[j];
        block_g[j] = 0.0f, block_b[j] = 0.0f;
      }
  }
  free(block_g);
  return 0;
}
