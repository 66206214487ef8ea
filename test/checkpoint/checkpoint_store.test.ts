// Runs the checkpoint store suite on LocalObjectStore in temp folders (the S3 harness runs the same suite).
import { afterAll } from "vitest";
import { describeCheckpointStore } from "./checkpoint_store.suite.js";
import { localStoreFactory } from "./fixtures.js";

const { makeStore, cleanup } = localStoreFactory();
afterAll(cleanup);

describeCheckpointStore(makeStore);
