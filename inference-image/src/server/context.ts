/** What the routes and the pipeline share: the server's parts, a request's context, and what a route is. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { WebSocket } from "ws";
import type { ZodType } from "zod/v4";
import type { Speech } from "../engines/types";
import type { Feature } from "../shared/license-protocol";
import type { Logger } from "../shared/log";
import type { Caller } from "./auth";
import type { ServerConfig } from "./config";
import type { ErrorFamily } from "./errors";
import type { LicenseGate } from "./license";
import type { ServerMetrics } from "./metrics";

export interface Deps {
  speech: Speech;
  config: ServerConfig;
  license: LicenseGate;
  metrics: ServerMetrics;
  logger: Logger;
}

/** What a request or session used, reported to the license proxy as a usage record (metadata only). */
export interface Usage {
  model: string;
  features: string[];
  audioSeconds: number;
  characters: number;
}

/** One HTTP request as its handler sees it. */
export interface RequestContext extends Deps {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  startedAt: number;
  /** Filled in by the handler; recorded (speech routes) before the response's last bytes are written. */
  usage: Usage;
}

/** A complete answer: the pipeline writes it once the request is accounted for. */
export interface Reply {
  status: number;
  body: string | Buffer;
  headers: Record<string, string>;
}

export const jsonReply = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  body: JSON.stringify(body),
  headers: { "content-type": "application/json", ...headers },
});

export const textReply = (status: number, body: string, contentType: string): Reply => ({ status, body, headers: { "content-type": contentType } });

/** How a route is documented in the OpenAPI document (server/openapi.ts); its parameters come from its schemas. */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** The success answer: its description and media types (JSON schemas by media type). */
  ok: { description: string; content?: Record<string, unknown> };
  /** Error statuses it answers besides those of authentication and admission. */
  errors?: number[];
  /** Media types of a body that is no schema (audio). */
  rawBody?: string[];
  /** What a socket's client sends (one schema per message, documented under components). */
  messages?: ZodType;
  /** Needs no API key (overrides the document's default). */
  open?: boolean;
}

interface RouteBase {
  method: "GET" | "POST";
  path: string;
  family: ErrorFamily;
  /** Needs an API key. */
  auth: boolean;
  /** Speech routes: the key's team needs this scope and a free slot, the license must allow it; accounted for, with a usage record. */
  feature?: Feature;
  doc: RouteDoc;
}

export interface HttpRoute<Q = unknown, B = unknown> extends RouteBase {
  kind: "http";
  /** The query's schema (src/params/); checked before the body is read. */
  query?: ZodType<Q>;
  /** The body's schema, JSON or a multipart form (its `file` part included). */
  body?: { type: "json" | "form"; schema: ZodType<B> };
  /** The engine queue its work waits in: a full one is refused (429) before the body is read. */
  work?: "transcribe" | "synthesize";
  /**
   * Returns the reply, or writes a streamed answer (head and body) without ending it: the pipeline records the
   * usage, then ends the response, so a client that saw its answer complete is never missing from usage.
   */
  handle(ctx: RequestContext, query: Q, body: B): Promise<Reply | void> | Reply | void;
}

/** An accepted socket, with what its session needs to serve and account for it. */
export interface SocketConnection {
  ws: WebSocket;
  requestId: string;
  deps: Deps;
  caller: Caller;
  /** Account for the session: called once, when it ends (before its close frame, when it closes itself). */
  settle(usage: Usage): void;
}

/** A session in progress: the pipeline ends it at shutdown and when its key is revoked. */
export interface OpenSocket {
  readonly done: Promise<void>;
  readonly caller: Caller;
  /** Finish what is in progress and close with `code` (shutdown: 1001). */
  end(code: number, reason: string): Promise<void>;
  /** Its key was revoked. */
  revoke(): void;
}

export interface SocketRoute<Q = unknown, R = unknown> extends RouteBase {
  kind: "socket";
  method: "GET";
  feature: Feature;
  query: ZodType<Q>;
  /** Reserve what the session needs before the upgrade (an engine stream: a full server answers 429 over HTTP). */
  reserve(deps: Deps, query: Q): Promise<R> | R;
  /** Give a reservation back when the upgrade did not happen. */
  release(reserved: R): Promise<void> | void;
  start(conn: SocketConnection, query: Q, reserved: R): OpenSocket;
}

export type Route = HttpRoute | SocketRoute;

/** A route table entry, its parameter types checked against its handler where it is written. */
export const httpRoute = <Q, B>(route: HttpRoute<Q, B>): Route => route as unknown as HttpRoute;
export const socketRoute = <Q, R>(route: SocketRoute<Q, R>): Route => route as unknown as SocketRoute;
