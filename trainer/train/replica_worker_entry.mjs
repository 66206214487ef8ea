// Worker-thread entry for a data-parallel replica: registers the TypeScript loader, then runs replica_worker.ts.
import { register } from "tsx/esm/api";

register();
await import("./replica_worker.ts");
