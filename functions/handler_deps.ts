// What every Lambda handler factory takes: how to open a store, the function's environment, and a clock.
// `functions/<name>/handler.ts` exports `makeHandler(deps: HandlerDeps)`; `functions/<name>/index.ts` wires
// the real ones (`export const handler = makeHandler(lambdaDeps())`); tests and the local workflow runner
// pass their own (a local folder store, the template's resolved environment, a fixed clock).
import type { ObjectStore } from "../trainer/storage/object_store.js";
import { openStore } from "../trainer/storage/open_store.js";

export type OpenStore = (uri: string) => ObjectStore | Promise<ObjectStore>;

export interface HandlerDeps {
  openStore: OpenStore;
  /** The function's environment: process.env on Lambda; locally, the template's variables with tokens resolved. */
  env: Readonly<Record<string, string | undefined>>;
  now: () => Date;
}

/** The dependencies of a deployed function. */
export function lambdaDeps(): HandlerDeps {
  return { openStore, env: process.env, now: () => new Date() };
}
