// The workflow's Lambdas, locally: each template function's IJEPA_FUNCTION (and IJEPA_HANDLER) names the handler
// factory in functions/ that the deployed bundle runs; here it is called in-process with the local store.
import type { HandlerDeps } from "../functions/handler_deps.js";
import type { IsExecutionRunning } from "../functions/prepare-run/handler.js";

export type Handler = (event: unknown) => Promise<unknown>;

export interface LocalFunctionOptions {
  isExecutionRunning?: IsExecutionRunning;
}

/**
 * The handler of functions/<folder>, with `deps`. (The three Lambdas that predate HandlerDeps take their
 * dependencies their own way; each is adapted here until they move to makeHandler(deps).)
 */
export async function loadHandler(
  folder: string,
  exportName: string | undefined,
  deps: HandlerDeps,
  options: LocalFunctionOptions = {},
): Promise<Handler> {
  switch (folder) {
    case "prepare-run":
      return (await import("../functions/prepare-run/handler.js")).makeHandler(deps, {
        isExecutionRunning: options.isExecutionRunning,
      });
    case "plan-segment":
      return (await import("../functions/plan-segment/handler.js")).makeHandler(deps);
    case "report":
      return (await import("../functions/report/handler.js")).makeHandler(deps);
    case "release-lock":
      return (await import("../functions/release-lock/handler.js")).makeHandler(deps);
    case "rotate-checkpoints":
      return (await import("../functions/rotate-checkpoints/handler.js")).makeHandler(deps.openStore);
    case "linear-probe":
      return (await import("../functions/linear-probe/index.js")).handler;
    case "shard-dataset": {
      const handlers = (await import("../functions/shard-dataset/index.js")).makeShardHandlers();
      const name = (exportName ?? "handler") as keyof typeof handlers;
      if (!(name in handlers)) throw new Error(`functions/shard-dataset has no handler ${exportName}`);
      return handlers[name];
    }
    default:
      throw new Error(
        `the template names functions/${folder}, which the local runner does not know (local/local_functions.ts)`,
      );
  }
}
