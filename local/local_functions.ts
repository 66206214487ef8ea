// The workflow's Lambdas, locally: each template function's IJEPA_FUNCTION (and IJEPA_HANDLER) names the handler
// factory in functions/ that the deployed bundle runs; here it is called in-process with the local store.
import type { HandlerDeps } from "../functions/handler_deps.js";
import type { IsExecutionRunning } from "../functions/prepare-run/handler.js";

export type Handler = (event: unknown) => Promise<unknown>;

export interface LocalFunctionOptions {
  isExecutionRunning?: IsExecutionRunning;
}

/** The handler of functions/<folder> (and, for shard-dataset, the named export of its index.ts), with `deps`. */
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
      return (await import("../functions/rotate-checkpoints/handler.js")).makeHandler(deps);
    case "linear-probe":
      return (await import("../functions/linear-probe/handler.js")).makeHandler(deps);
    case "shard-dataset": {
      const shard = await import("../functions/shard-dataset/handler.js");
      // The same names as the deployed index.ts exports, each from its factory.
      const factories: Record<string, (d: HandlerDeps) => Handler> = {
        handler: shard.makeHandler,
        planHandler: shard.makePlanHandler,
        workHandler: shard.makeWorkHandler,
        finalizeHandler: shard.makeFinalizeHandler,
      };
      const factory = factories[exportName ?? "handler"];
      if (!factory) throw new Error(`functions/shard-dataset has no handler ${exportName}`);
      return factory(deps);
    }
    default:
      throw new Error(
        `the template names functions/${folder}, which the local runner does not know (local/local_functions.ts)`,
      );
  }
}
