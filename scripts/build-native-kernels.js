// npm postinstall: builds the optional native kernel tier (native/, an N-API addon) with node-gyp; never fails.
// Plain JavaScript because it runs before tsx is guaranteed. Where it cannot build (no compiler, no Node headers,
// Windows, IJEPA_NATIVE_KERNELS=off), it says in one line that the wasm kernels will be used and exits 0.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const addonDir = join(root, "native");

function fallBack(why) {
  console.log(`ijepa: native kernels not built (${why}); the wasm kernels will be used`);
  process.exit(0);
}

if (process.env.IJEPA_NATIVE_KERNELS === "off") fallBack("IJEPA_NATIVE_KERNELS=off");
if (!existsSync(join(addonDir, "binding.gyp"))) fallBack("no native/ folder here");
if (process.platform === "win32") fallBack("not built on Windows");

// npm passes its bundled node-gyp in npm_config_node_gyp to install scripts; by hand, take the one beside npm.
const prefix = resolve(dirname(process.execPath), "..");
const nodeGyp = [
  process.env.npm_config_node_gyp,
  join(prefix, "lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"),
  join(dirname(process.execPath), "node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"),
].find((candidate) => candidate && existsSync(candidate));
if (!nodeGyp) fallBack("node-gyp not found");

// The headers of the running Node: npm's nodedir setting, else the install's own include/node (Debian's nodejs
// and the official tarballs ship them), so the build needs no download.
const args = [nodeGyp, "rebuild", "--directory", addonDir];
if (!process.env.npm_config_nodedir && existsSync(join(prefix, "include/node/node_api.h"))) {
  args.push(`--nodedir=${prefix}`);
}
const started = Date.now();
const build = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 120_000 });
if (build.status !== 0) {
  const output = `${build.stdout ?? ""}${build.stderr ?? ""}`.trim().split("\n");
  const error = output.filter(
    (line) => /error|not found|ERR!/.test(line) && !/gyp ERR! (stack|System|command|cwd|node|not ok)/.test(line),
  );
  fallBack(error[0]?.trim() ?? build.error?.message ?? `node-gyp exited with ${build.status}`);
}
console.log(`ijepa: native kernels built in ${((Date.now() - started) / 1000).toFixed(1)} s (native/build/Release)`);
