// Lambda entry point for Report: the handler from handler.ts with the deployed function's dependencies.
import { lambdaDeps } from "../handler_deps.js";
import { makeHandler } from "./handler.js";

export const handler = makeHandler(lambdaDeps());
