// Waiting for one message from a worker thread, or for the error or exit that means it will never come.
import type { Worker } from "node:worker_threads";

/**
 * The first message `settle` answers for: its `value` resolves the promise, and a throw from `settle` rejects it
 * (the worker reported a failure). Messages it returns undefined for are someone else's. The worker's error event
 * rejects, and so does its exit first, with `exited(code)` as the message. Every listener is removed when it ends.
 */
export function awaitWorkerMessage<M, T>(
  worker: Worker,
  settle: (message: M) => { value: T } | undefined,
  exited: (code: number) => string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (message: M) => {
      let outcome: { value: T } | undefined;
      try {
        outcome = settle(message);
      } catch (err) {
        cleanup();
        reject(err);
        return;
      }
      if (!outcome) return;
      cleanup();
      resolve(outcome.value);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(exited(code)));
    };
    const cleanup = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });
}
