/**
 * Admission for request bodies: every speech request reserves room for the body it will buffer (its
 * Content-Length, or the largest allowed body when it is chunked) before a byte is read, and gives it
 * back when the request ends, aborted uploads included. Twenty concurrent 45 MiB uploads used to hold
 * ~1 GB; now the bodies being buffered never pass MAX_BUFFERED_BODY_BYTES, and the rest get a 429.
 */
import type { IncomingMessage } from "node:http";
import { HttpError } from "../shared/http";

export class BodyBudget {
  private used = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxBody: number,
  ) {}

  /** Reserve this request's body; returns the release (idempotent). Throws a 429 when the budget is spent. */
  admit(req: IncomingMessage): () => void {
    const declared = Number(req.headers["content-length"]);
    const chunked = req.headers["content-length"] === undefined && req.headers["transfer-encoding"] !== undefined;
    const bytes = chunked ? this.maxBody : Number.isFinite(declared) && declared > 0 ? Math.min(declared, this.maxBody) : 0;
    if (this.used + bytes > this.capacity) {
      throw new HttpError(429, "too_many_uploads", "server busy: too many request bodies are being received; retry shortly", { "retry-after": "1" });
    }
    this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
    };
  }

  /** Bytes reserved by the bodies being received or held now. */
  get reserved(): number {
    return this.used;
  }
}
