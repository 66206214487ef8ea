// Lambda entry point for RotateCheckpoints: the handler from handler.ts, wired to the real store opener.
import { openStore } from "../../trainer/storage/open_store.js";
import { makeHandler } from "./handler.js";

export const handler = makeHandler(openStore);
