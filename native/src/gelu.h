/* Exact GELU (y = x·Φ(x)) and its gradient on float arrays, as elementwise.wat computes them (gelu.c). */
#ifndef IJEPA_GELU_H
#define IJEPA_GELU_H

#include <stddef.h>
#include <stdint.h>

#include "gemm.h"

void ijepa_gelu_forward(ijepa_tier tier, const float *x, float *y, size_t count);
void ijepa_gelu_backward(ijepa_tier tier, const float *x, const float *dy, float *dx, size_t count);

#endif
