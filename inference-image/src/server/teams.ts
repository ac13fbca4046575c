/**
 * A team's live state: its scopes, its limits and what it holds now (in-flight requests plus open live
 * sessions, and the start times of its recent requests). The state outlives reloads of the keys file,
 * so a rotation neither forgets who is in flight nor resets a team's rate window.
 */
import { HttpError } from "../shared/http";
import type { Feature } from "../shared/license-protocol";

export type Scope = Feature;

export interface TeamLimits {
  /** In-flight requests plus open live sessions. */
  concurrent?: number;
  requestsPerMinute?: number;
}

export interface TeamSpec {
  name: string;
  scopes: readonly Scope[];
  limits: TeamLimits;
}

const WINDOW_MS = 60_000;

export class Team {
  private scopes!: ReadonlySet<Scope>;
  private limits!: TeamLimits;
  private inFlightNow = 0;
  /** Start times of the last `requestsPerMinute` admitted requests, a ring: O(1) per request, exact over any minute. */
  private starts: Float64Array | undefined;
  private head = 0;
  private filled = 0;

  constructor(
    readonly name: string,
    spec: TeamSpec,
  ) {
    this.update(spec);
  }

  get inFlight(): number {
    return this.inFlightNow;
  }

  update(spec: TeamSpec): void {
    this.scopes = new Set(spec.scopes);
    const rpm = spec.limits.requestsPerMinute;
    // A changed per-minute limit starts a fresh window; an unchanged one keeps counting across reloads.
    if (rpm !== this.limits?.requestsPerMinute) {
      this.starts = rpm === undefined ? undefined : new Float64Array(rpm);
      this.head = 0;
      this.filled = 0;
    }
    this.limits = { ...spec.limits };
  }

  /**
   * The team gate: the scope (403), then the limits (429 with Retry-After). Returns the release to call
   * exactly once when the request or session ends. Nothing here waits: one team at its limit is refused
   * at once and never holds up another.
   */
  admit(scope: Scope, now = performance.now()): () => void {
    if (!this.scopes.has(scope)) {
      throw new HttpError(403, `missing_scope_${scope.replace("-", "_")}`, `this API key's team "${this.name}" does not have the "${scope}" scope`);
    }
    const { concurrent } = this.limits;
    if (concurrent !== undefined && this.inFlightNow >= concurrent) {
      throw new HttpError(429, "team_concurrency_limit", `team "${this.name}" has ${concurrent} requests and live sessions in progress, its limit; retry when one ends`, { "retry-after": "1" });
    }
    const starts = this.starts;
    if (starts) {
      // Full ring: the oldest of the last N starts is the one that must leave the window first.
      if (this.filled === starts.length && starts[this.head] > now - WINDOW_MS) {
        const waitS = Math.max(1, Math.ceil((starts[this.head] + WINDOW_MS - now) / 1000));
        throw new HttpError(429, "team_rate_limit", `team "${this.name}" reached its limit of ${starts.length} requests per minute`, { "retry-after": String(waitS) });
      }
      starts[this.head] = now;
      this.head = (this.head + 1) % starts.length;
      this.filled = Math.min(this.filled + 1, starts.length);
    }
    this.inFlightNow++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlightNow--;
    };
  }
}
