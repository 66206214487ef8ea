// Child process for the fault-injection tests: starts like a trainer (cleans dead writers' temps), then saves
// checkpoints of a few hundred KB, one after another, until it is killed. Prints "saved <step>" after each.
import { readLatestPointer, saveCheckpoint } from "../../trainer/checkpoint/checkpoint_store.js";
import { openStore } from "../../trainer/storage/open_store.js";
import { removeStaleRunTempFiles } from "../../trainer/run/stale_run_temp_files.js";
import { Rng } from "../../trainer/utils/rng.js";

const store = openStore(process.argv[2]);
await removeStaleRunTempFiles(store);
let step = ((await readLatestPointer(store))?.step ?? 0) + 1;
for (;;) {
  const rng = Rng.fromSeed(step, "checkpoint-writer");
  const tensor = (name: string) => {
    const n = 20_000 + rng.int(0, 60_000);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rng.float();
    return { name, dtype: "F32" as const, shape: [n], data };
  };
  await saveCheckpoint(store, {
    step,
    epoch: 0,
    model: [tensor("encoder.w"), tensor("target_encoder.w")],
    optimizer: [tensor("exp_avg.w")],
    state: { step },
  });
  process.stdout.write(`saved ${step}\n`);
  step += 1;
}
