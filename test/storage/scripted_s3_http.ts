// A fake HTTP layer for S3Client: every request is recorded and answered by a script, so the SDK's own retry middleware runs for real.
import { Readable } from "node:stream";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";

export interface SeenRequest {
  method: string;
  /** "/bucket/key" (path-style). */
  path: string;
  query: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body: Buffer;
}

/** A status with optional headers and body (a Readable may fail mid-way), or an Error thrown as if the connection broke. */
export type Reply = { status: number; headers?: Record<string, string>; body?: string | Buffer | Readable } | Error;

type RequestLike = {
  method: string;
  path: string;
  query?: SeenRequest["query"];
  headers: Record<string, string>;
  body?: unknown;
};

/**
 * aws-sdk-client-mock replaces S3Client.send and so skips the SDK's middleware, retries included;
 * this stands in for the network instead, below the middleware.
 */
export class ScriptedS3Http {
  readonly seen: SeenRequest[] = [];
  readonly metadata = { handlerProtocol: "http/1.1" };

  constructor(private readonly script: (request: SeenRequest, index: number) => Reply) {}

  async handle(
    request: RequestLike,
  ): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Readable } }> {
    const seen: SeenRequest = {
      method: request.method,
      path: request.path,
      query: request.query ?? {},
      headers: request.headers,
      body: await readBody(request.body),
    };
    this.seen.push(seen);
    const reply = this.script(seen, this.seen.length - 1);
    if (reply instanceof Error) throw reply;
    const headers = { ...reply.headers };
    let body: Readable;
    if (reply.body instanceof Readable) {
      body = reply.body;
    } else {
      const bytes = Buffer.from(reply.body ?? "");
      headers["content-length"] ??= String(bytes.length);
      body = Readable.from(bytes.length ? [bytes] : []);
    }
    return { response: { statusCode: reply.status, headers, body } };
  }

  updateHttpClientConfig(): void {}
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
  destroy(): void {}

  /** Requests seen for one S3 operation, told apart by method and query. */
  requestsFor(method: string, queryKey?: string): SeenRequest[] {
    return this.seen.filter((r) => r.method === method && (queryKey === undefined || queryKey in r.query));
  }
}

/** An S3Client that talks to `http` with the SDK's standard retry strategy, as the store's own client does. */
export function scriptedClient(http: ScriptedS3Http, maxAttempts = 5): S3Client {
  return new S3Client({
    endpoint: "http://s3.test",
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
    maxAttempts,
    requestHandler: http as unknown as S3ClientConfig["requestHandler"],
  });
}

/** S3's XML error reply. */
export function s3Error(status: number, code: string, message = code): Reply {
  return {
    status,
    headers: { "content-type": "application/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>req-1</RequestId></Error>`,
  };
}

/** The error Node raises when the peer drops the connection. */
export function connectionReset(): Error {
  return Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
}

/** A body that sends `bytes` up to `failAfter`, then breaks like a reset connection. */
export function bodyBreakingAfter(bytes: Buffer, failAfter: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(bytes.subarray(0, failAfter));
      } else {
        this.destroy(connectionReset());
      }
    },
  });
}

async function readBody(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === "string") return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
