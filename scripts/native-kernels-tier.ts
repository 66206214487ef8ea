// Prints which GEMM tier this machine runs (`native avx2-fma`, or `wasm` and why); with --require-native, exits 1
// when the native one did not load (CI: the addon must build on its x86-64 Linux, so a fallback cannot hide).
import { nativeKernelsStatus } from "../trainer/kernels/native_kernels.js";

const { kernels, reason } = nativeKernelsStatus();
console.log(kernels ? `kernel tier: native ${kernels.tier()}` : `kernel tier: wasm (native: ${reason})`);
if (!kernels && process.argv.includes("--require-native")) {
  console.error("the native kernels did not load: run `npm run build:native` and read its line");
  process.exit(1);
}
