// Lambda entry point for RotateCheckpoints: the handler from handler.ts, wired to the deployed dependencies.
import { lambdaDeps } from "../handler_deps.js";
import { makeHandler } from "./handler.js";

export const handler = makeHandler(lambdaDeps());
