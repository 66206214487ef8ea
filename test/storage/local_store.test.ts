// LocalObjectStore against the ObjectStore contract, in a temp folder.
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { objectStoreContract } from "./object_store_contract.js";

objectStoreContract("LocalObjectStore", async () => {
  const parent = await fs.mkdtemp(path.join(os.tmpdir(), "ijepa-local-store-"));
  return {
    store: new LocalObjectStore(path.join(parent, "run")),
    sibling: new LocalObjectStore(path.join(parent, "run-2")),
    cleanup: () => fs.rm(parent, { recursive: true, force: true }),
  };
});
