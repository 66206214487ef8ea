// Dependencies for a Lambda handler factory under test: the given store opener, an empty environment and
// a fixed clock, so nothing leaks in from the machine running the tests.
import type { HandlerDeps, OpenStore } from "../../functions/handler_deps.js";
import { openStore as openRealStore } from "../../trainer/storage/open_store.js";

export const TEST_NOW = new Date("2026-01-02T03:04:05Z");

export function testDeps(openStore: OpenStore = openRealStore, env: HandlerDeps["env"] = {}): HandlerDeps {
  return { openStore, env, now: () => TEST_NOW };
}
