/* N-API binding: gemm and column_sums on an ArrayBuffer (tfjs-wasm's heap), addressed by byte offsets and strides. */
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gelu.h"
#include "gemm.h"
#include "layer_norm.h"

#define MAX_ARGS 14

/* Per module instance (one per thread that loads it: the main thread and each replica worker). */
typedef struct {
  ijepa_tier tier;
} instance_data;

static void free_instance(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  free(data);
}

static int throw_range(napi_env env, const char *message) {
  napi_throw_range_error(env, NULL, message);
  return -1;
}

/* The ArrayBuffer's bytes (re-read on every call: heap growth detaches the old buffer). */
static int heap_of(napi_env env, napi_value value, uint8_t **data, uint64_t *length) {
  bool is;
  void *bytes = NULL;
  size_t len = 0;
  if (napi_is_arraybuffer(env, value, &is) != napi_ok || !is)
    return throw_range(env, "heap: expected an ArrayBuffer (the wasm memory's buffer)");
  if (napi_get_arraybuffer_info(env, value, &bytes, &len) != napi_ok) return throw_range(env, "heap: unreadable");
  *data = bytes;
  *length = len;
  return 0;
}

static int uint_arg(napi_env env, napi_value value, const char *name, uint64_t *out) {
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok || !(number >= 0) || number > 9007199254740991.0 ||
      number != (double)(uint64_t)number) {
    char message[96];
    snprintf(message, sizeof message, "%s: expected a non-negative integer", name);
    return throw_range(env, message);
  }
  *out = (uint64_t)number;
  return 0;
}

/* Checks that the rows×cols float matrix at byte offset `at` (byte strides rs, cs) lies in the heap, aligned. */
static int check_matrix(napi_env env, const char *name, uint64_t length, uint64_t at, uint64_t rs, uint64_t cs,
                        uint64_t rows, uint64_t cols) {
  char message[160];
  if (at % 4 || rs % 4 || cs % 4) {
    snprintf(message, sizeof message, "%s: offsets and strides must be multiples of 4 bytes", name);
    return throw_range(env, message);
  }
  /* rows, cols and strides are below 2^32 here, so the products fit in 64 bits. */
  uint64_t last = at + (rows - 1) * rs + (cols - 1) * cs + 4;
  if (last > length) {
    snprintf(message, sizeof message, "%s: ends at byte %llu, past the heap's %llu bytes", name,
             (unsigned long long)last, (unsigned long long)length);
    return throw_range(env, message);
  }
  return 0;
}

static size_t read_args(napi_env env, napi_callback_info info, napi_value *argv, instance_data **data) {
  size_t argc = MAX_ARGS;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **)data);
  return argc;
}

/* How every kernel call starts: its arguments, the instance data and the heap (argv[0]). Throws a TypeError saying
 * `usage` when fewer than `want` arguments came. Returns the argument count, or 0 once it has thrown. */
static size_t begin_call(napi_env env, napi_callback_info info, size_t want, const char *usage, napi_value *argv,
                         instance_data **data, uint8_t **heap, uint64_t *length) {
  size_t argc = read_args(env, info, argv, data);
  if (argc < want) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return heap_of(env, argv[0], heap, length) ? 0 : argc;
}

/* argv[1..count] as the non-negative integers `names`. */
static int uint_args(napi_env env, napi_value *argv, size_t count, const char *const *names, uint64_t *out) {
  for (size_t i = 0; i < count; i++)
    if (uint_arg(env, argv[i + 1], names[i], &out[i])) return -1;
  return 0;
}

/* gemm(heap, pa, aRs, aCs, pb, bRs, bCs, pc, pbias, m, k, n, accumulate[, portable]): as gemm.wat's gemm, without
 * scratch. C[m×n] row-major at pc = op(A)·op(B) + (C if accumulate, else the bias row at pbias if pbias ≠ 0).
 * `portable` (tests) runs the portable micro-kernel instead of the best one. */
static napi_value gemm(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  instance_data *data;
  uint8_t *heap;
  uint64_t length, v[12];
  static const char *const names[12] = {"pa", "aRs", "aCs", "pb", "bRs", "bCs", "pc", "pbias", "m", "k", "n",
                                        "accumulate"};
  size_t argc = begin_call(env, info, 13,
                           "gemm: expected 13 arguments (heap, pa, aRs, aCs, pb, bRs, bCs, pc, pbias, m, k, n, "
                           "accumulate)",
                           argv, &data, &heap, &length);
  if (!argc || uint_args(env, argv, 12, names, v)) return NULL;
  uint64_t pa = v[0], a_rs = v[1], a_cs = v[2], pb = v[3], b_rs = v[4], b_cs = v[5], pc = v[6], pbias = v[7];
  uint64_t m = v[8], k = v[9], n = v[10];
  for (int i = 0; i < 11; i++)
    if (v[i] > UINT32_MAX) return throw_range(env, "gemm: offsets, strides and sizes must be below 2^32"), NULL;
  if (m == 0 || k == 0 || n == 0) return throw_range(env, "gemm: m, k and n must be at least 1"), NULL;
  if (check_matrix(env, "gemm A", length, pa, a_rs, a_cs, m, k) ||
      check_matrix(env, "gemm B", length, pb, b_rs, b_cs, k, n) ||
      check_matrix(env, "gemm C", length, pc, n * 4, 4, m, n) ||
      (pbias && check_matrix(env, "gemm bias", length, pbias, 0, 4, 1, n)))
    return NULL;
  ijepa_tier tier = data->tier;
  if (argc > 13) {
    bool portable = false;
    napi_get_value_bool(env, argv[13], &portable);
    if (portable) tier = IJEPA_TIER_PORTABLE;
  }
  const float *a = (const float *)(heap + pa), *b = (const float *)(heap + pb);
  const float *bias = pbias ? (const float *)(heap + pbias) : NULL;
  int failed = ijepa_gemm(tier, a, (ptrdiff_t)(a_rs / 4), (ptrdiff_t)(a_cs / 4), b, (ptrdiff_t)(b_rs / 4),
                          (ptrdiff_t)(b_cs / 4), (float *)(heap + pc), bias, m, k, n, v[11] != 0);
  if (failed) napi_throw_error(env, NULL, "gemm: out of memory for the packing buffers");
  return NULL;
}

/* batch_gemm(heap, pa, pb, pc, batch, m, k, n, transposeA, transposeB): C[b] = op(A[b])·op(B[b]) for each of
 * `batch` row-major matrices packed one after another (A[b] m×k, or k×m when transposed; B[b] k×n, or n×k). */
static napi_value batch_gemm(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  instance_data *data;
  uint8_t *heap;
  uint64_t length, v[9];
  static const char *const names[9] = {"pa", "pb", "pc", "batch", "m", "k", "n", "transposeA", "transposeB"};
  if (!begin_call(env, info, 10,
                  "batch_gemm: expected 10 arguments (heap, pa, pb, pc, batch, m, k, n, transposeA, transposeB)", argv,
                  &data, &heap, &length) ||
      uint_args(env, argv, 9, names, v))
    return NULL;
  uint64_t pa = v[0], pb = v[1], pc = v[2], batch = v[3], m = v[4], k = v[5], n = v[6];
  for (int i = 0; i < 7; i++)
    if (v[i] > UINT32_MAX) return throw_range(env, "batch_gemm: offsets and sizes must be below 2^32"), NULL;
  if (batch == 0 || m == 0 || k == 0 || n == 0) return NULL;
  /* Each operand as one contiguous block of batch matrices; first that the block's size cannot overflow. */
  if (m * k > length / 4 || batch > length / 4 / (m * k) || k * n > length / 4 || batch > length / 4 / (k * n) ||
      m * n > length / 4 || batch > length / 4 / (m * n))
    return throw_range(env, "batch_gemm: the operands are larger than the heap"), NULL;
  if (check_matrix(env, "batch_gemm A", length, pa, 0, 4, 1, batch * m * k) ||
      check_matrix(env, "batch_gemm B", length, pb, 0, 4, 1, batch * k * n) ||
      check_matrix(env, "batch_gemm C", length, pc, 0, 4, 1, batch * m * n))
    return NULL;
  if (ijepa_batch_gemm(data->tier, (const float *)(heap + pa), (const float *)(heap + pb), (float *)(heap + pc),
                       batch, m, k, n, v[7] != 0, v[8] != 0))
    napi_throw_error(env, NULL, "batch_gemm: out of memory for the packing buffers");
  return NULL;
}

/* column_sums(heap, px, rows, cols, pout): out[j] = Σ_i x[i, j], as gemm.wat's column_sums. */
static napi_value column_sums(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  instance_data *data;
  uint8_t *heap;
  uint64_t length, v[4];
  static const char *const names[4] = {"px", "rows", "cols", "pout"};
  if (!begin_call(env, info, 5, "column_sums: expected 5 arguments (heap, px, rows, cols, pout)", argv, &data, &heap,
                  &length) ||
      uint_args(env, argv, 4, names, v))
    return NULL;
  uint64_t px = v[0], rows = v[1], cols = v[2], pout = v[3];
  if (px > UINT32_MAX || rows > UINT32_MAX || cols > UINT32_MAX || pout > UINT32_MAX)
    return throw_range(env, "column_sums: offsets and sizes must be below 2^32"), NULL;
  if (rows == 0 || cols == 0) return NULL;
  if (check_matrix(env, "column_sums x", length, px, cols * 4, 4, rows, cols) ||
      check_matrix(env, "column_sums out", length, pout, 0, 4, 1, cols))
    return NULL;
  ijepa_column_sums((const float *)(heap + px), rows, cols, (float *)(heap + pout));
  return NULL;
}

/* gelu_forward(heap, px, py, count) and gelu_backward(heap, px, pdy, pdx, count): y = x·Φ(x), dx = dy·GELU'(x), as
 * elementwise.wat's (the same bits). */
static napi_value gelu(napi_env env, napi_callback_info info, int backward) {
  napi_value argv[MAX_ARGS];
  instance_data *data;
  uint8_t *heap;
  uint64_t length, v[4];
  size_t want = backward ? 5 : 4;
  static const char *const names[2][4] = {{"px", "py", "count", ""}, {"px", "pdy", "pdx", "count"}};
  if (!begin_call(env, info, want,
                  backward ? "gelu_backward: expected (heap, px, pdy, pdx, count)"
                           : "gelu_forward: expected (heap, px, py, count)",
                  argv, &data, &heap, &length) ||
      uint_args(env, argv, want - 1, names[backward], v))
    return NULL;
  uint64_t count = v[want - 2];
  if (count == 0) return NULL;
  if (count > UINT32_MAX) return throw_range(env, "gelu: count must be below 2^32"), NULL;
  for (size_t i = 0; i + 2 < want; i++)
    if (v[i] > UINT32_MAX || check_matrix(env, backward ? "gelu_backward" : "gelu_forward", length, v[i], 0, 4, 1,
                                          count))
      return v[i] > UINT32_MAX ? (throw_range(env, "gelu: offsets must be below 2^32"), NULL) : NULL;
  if (backward)
    ijepa_gelu_backward(data->tier, (const float *)(heap + v[0]), (const float *)(heap + v[1]),
                        (float *)(heap + v[2]), count);
  else
    ijepa_gelu_forward(data->tier, (const float *)(heap + v[0]), (float *)(heap + v[1]), count);
  return NULL;
}

static napi_value gelu_forward(napi_env env, napi_callback_info info) { return gelu(env, info, 0); }
static napi_value gelu_backward(napi_env env, napi_callback_info info) { return gelu(env, info, 1); }

/* Reads `count` offsets (argv[1..count]) and checks each names `sizes[i]` floats inside the heap (0 = absent when
 * optional[i]). */
static int float_regions(napi_env env, napi_value *argv, const char *what, uint64_t length, size_t count,
                         const char *const *names, const uint64_t *sizes, const int *optional, uint64_t *out) {
  for (size_t i = 0; i < count; i++) {
    if (uint_arg(env, argv[i + 1], names[i], &out[i])) return -1;
    if (out[i] > UINT32_MAX) return throw_range(env, "offsets must be below 2^32");
    if (optional[i] && out[i] == 0) continue;
    char name[96];
    snprintf(name, sizeof name, "%s %s", what, names[i]);
    if (check_matrix(env, name, length, out[i], 0, 4, 1, sizes[i])) return -1;
  }
  return 0;
}

/* layer_norm_forward(heap, px, pgamma, pbeta, py, pstats, rows, cols, eps), as elementwise.wat's (the same bits);
 * pgamma = pbeta = 0 for no affine, pstats = 0 for no stats. */
static napi_value layer_norm_forward(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  instance_data *data;
  uint8_t *heap;
  uint64_t length, rows, cols, p[5];
  double eps;
  if (!begin_call(env, info, 9, "layer_norm_forward: expected (heap, px, pgamma, pbeta, py, pstats, rows, cols, eps)",
                  argv, &data, &heap, &length) ||
      uint_arg(env, argv[6], "rows", &rows) || uint_arg(env, argv[7], "cols", &cols))
    return NULL;
  if (napi_get_value_double(env, argv[8], &eps) != napi_ok) return throw_range(env, "eps: expected a number"), NULL;
  if (rows == 0 || cols == 0) return NULL;
  if (rows > UINT32_MAX || cols > UINT32_MAX || rows * cols > length / 4)
    return throw_range(env, "layer_norm_forward: x is larger than the heap"), NULL;
  static const char *const names[5] = {"x", "gamma", "beta", "y", "stats"};
  const uint64_t sizes[5] = {rows * cols, cols, cols, rows * cols, 2 * rows};
  static const int optional[5] = {0, 1, 1, 0, 1};
  if (float_regions(env, argv, "layer_norm_forward", length, 5, names, sizes, optional, p)) return NULL;
  if ((p[1] == 0) != (p[2] == 0))
    return throw_range(env, "layer_norm_forward: gamma and beta come together or not at all"), NULL;
  ijepa_layer_norm_forward((const float *)(heap + p[0]), p[1] ? (const float *)(heap + p[1]) : NULL,
                           p[2] ? (const float *)(heap + p[2]) : NULL, (float *)(heap + p[3]),
                           p[4] ? (float *)(heap + p[4]) : NULL, rows, cols, (float)eps);
  return NULL;
}

/* layer_norm_backward(heap, px, pgamma, pdy, pstats, pdx, pdgamma, pdbeta, rows, cols), as elementwise.wat's
 * (the same bits), with scratch of its own. */
static napi_value layer_norm_backward(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  instance_data *data;
  uint8_t *heap;
  uint64_t length, rows, cols, p[7];
  if (!begin_call(env, info, 10,
                  "layer_norm_backward: expected (heap, px, pgamma, pdy, pstats, pdx, pdgamma, pdbeta, rows, cols)",
                  argv, &data, &heap, &length) ||
      uint_arg(env, argv[8], "rows", &rows) || uint_arg(env, argv[9], "cols", &cols))
    return NULL;
  if (rows == 0 || cols == 0) return NULL;
  if (rows > UINT32_MAX || cols > UINT32_MAX || rows * cols > length / 4)
    return throw_range(env, "layer_norm_backward: x is larger than the heap"), NULL;
  static const char *const names[7] = {"x", "gamma", "dy", "stats", "dx", "dgamma", "dbeta"};
  const uint64_t sizes[7] = {rows * cols, cols, rows * cols, 2 * rows, rows * cols, cols, cols};
  static const int optional[7] = {0, 0, 0, 0, 0, 0, 0};
  if (float_regions(env, argv, "layer_norm_backward", length, 7, names, sizes, optional, p)) return NULL;
  if (ijepa_layer_norm_backward((const float *)(heap + p[0]), (const float *)(heap + p[1]),
                                (const float *)(heap + p[2]), (const float *)(heap + p[3]), (float *)(heap + p[4]),
                                (float *)(heap + p[5]), (float *)(heap + p[6]), rows, cols))
    napi_throw_error(env, NULL, "layer_norm_backward: out of memory for its scratch");
  return NULL;
}

/* tier(): which micro-kernel gemm runs on this CPU, "avx2-fma" or "portable". */
static napi_value tier(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS], result;
  instance_data *data;
  read_args(env, info, argv, &data);
  const char *name = data->tier == IJEPA_TIER_AVX2_FMA ? "avx2-fma" : "portable";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result);
  return result;
}

/* Context-aware: initialised once per thread that requires it (worker threads included). */
NAPI_MODULE_INIT() {
  instance_data *data = malloc(sizeof *data);
  if (!data) return NULL;
  data->tier = ijepa_best_tier();
  napi_set_instance_data(env, data, free_instance, NULL);
  napi_property_descriptor properties[] = {
      {"gemm", NULL, gemm, NULL, NULL, NULL, napi_enumerable, data},
      {"batchGemm", NULL, batch_gemm, NULL, NULL, NULL, napi_enumerable, data},
      {"geluForward", NULL, gelu_forward, NULL, NULL, NULL, napi_enumerable, data},
      {"geluBackward", NULL, gelu_backward, NULL, NULL, NULL, napi_enumerable, data},
      {"layerNormForward", NULL, layer_norm_forward, NULL, NULL, NULL, napi_enumerable, data},
      {"layerNormBackward", NULL, layer_norm_backward, NULL, NULL, NULL, napi_enumerable, data},
      {"columnSums", NULL, column_sums, NULL, NULL, NULL, napi_enumerable, data},
      {"tier", NULL, tier, NULL, NULL, NULL, napi_enumerable, data},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}
