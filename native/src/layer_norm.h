/* LayerNorm forward and backward over rows of a float matrix, as elementwise.wat computes them (layer_norm.c). */
#ifndef IJEPA_LAYER_NORM_H
#define IJEPA_LAYER_NORM_H

#include <stddef.h>

/* y = (x − μ)·rstd·γ + β per row (y = x̂ without γ, β); stats[2r] = μ, stats[2r + 1] = rstd when stats. */
void ijepa_layer_norm_forward(const float *x, const float *gamma, const float *beta, float *y, float *stats,
                              size_t rows, size_t cols, float eps);

/* dx, dγ = Σ_rows dy·x̂ and dβ = Σ_rows dy from x, γ, dy and the forward's stats. Returns -1 without memory. */
int ijepa_layer_norm_backward(const float *x, const float *gamma, const float *dy, const float *stats, float *dx,
                              float *dgamma, float *dbeta, size_t rows, size_t cols);

#endif
