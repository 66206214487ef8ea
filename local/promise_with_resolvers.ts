// Promise.withResolvers (Node 22+) for Node 20: aws-local-stepfunctions 3.0.0 calls it for every Task's timeout,
// *after* starting the task's handler, so without it each Task fails with a TypeError once its side effects are
// done (and a Retry repeats them). Imported before the runner loads the library.
type WithResolvers = <T>() => {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
};

const P = Promise as unknown as { withResolvers?: WithResolvers };
if (typeof P.withResolvers !== "function") {
  P.withResolvers = <T>() => {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};
