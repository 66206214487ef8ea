// Worker-thread entry for the probe's feature workers under tsx: registers the TypeScript loader, then runs feature_pool.ts.
import { register } from "tsx/esm/api";

register();
await import("./feature_pool.ts");
