// Lambda entry points for ShardDataset: the whole job, and plan / work / finalize for a Distributed Map,
// each the factory from handler.ts wired to the deployed dependencies.
import { lambdaDeps } from "../handler_deps.js";
import { makeFinalizeHandler, makeHandler, makePlanHandler, makeWorkHandler } from "./handler.js";

const deps = lambdaDeps();
export const handler = makeHandler(deps);
export const planHandler = makePlanHandler(deps);
export const workHandler = makeWorkHandler(deps);
export const finalizeHandler = makeFinalizeHandler(deps);
