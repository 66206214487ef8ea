# node-gyp build of the native kernel tier (scripts/build-native-kernels.js runs it at npm install).
{
  "targets": [
    {
      "target_name": "ijepa_kernels",
      "sources": ["src/binding.c", "src/gemm.c", "src/gelu.c", "src/layer_norm.c"],
      # No -ffast-math and no FP contraction: every fused multiply-add is written out, so the bits are the code's.
      "cflags": ["-O3", "-std=c11", "-ffp-contract=off", "-fno-math-errno"],
      "xcode_settings": {"OTHER_CFLAGS": ["-O3", "-std=c11", "-ffp-contract=off", "-fno-math-errno"]}
    }
  ]
}
