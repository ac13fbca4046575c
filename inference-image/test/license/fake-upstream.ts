/**
 * A fake vendor license server for tests: real HTTP on loopback, a test signing key made at start,
 * and controllable failures (down, 500s, slow, partial acceptance). It deduplicates usage by id like
 * the real one, but also counts every upload of every id, so proxy-side duplicates are not masked.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { UsageRecord } from "../../src/shared/license-protocol";
import { generateSigningKey, mintLease, type LeaseSpec, type SigningKey } from "../../src/license-proxy/tools/mint";

export interface FaultPlan {
  /** Drop every connection without an answer (as if the server were unreachable). */
  down: boolean;
  /** Answer the next N usage requests with 500 (and store nothing). */
  usage500s: number;
  /** Store the next N usage batches, then answer only after `slowMs` (the proxy should time out). */
  usageSlow: number;
  slowMs: number;
  /** Accept at most this many records of each usage batch (the first ones), null for all. */
  acceptAtMost: number | null;
  /** Answer lease requests with this token instead of a freshly minted one. */
  leaseOverride: string | null;
}

export interface UsageRequestLog {
  at: number;
  ids: string[];
  outcome: "accepted" | "500" | "slow" | "dropped";
}

export class FakeUpstream {
  readonly key: SigningKey = generateSigningKey();
  readonly licenseKey = `lk_test_${Math.random().toString(36).slice(2)}`;
  faults: FaultPlan = { down: false, usage500s: 0, usageSlow: 0, slowMs: 0, acceptAtMost: null, leaseOverride: null };
  leaseSpec: () => LeaseSpec = () => ({ sub: "lic-test", exp: Math.floor(Date.now() / 1000) + 3600, grace_s: 86400 });

  /** Distinct records, by id. */
  readonly records = new Map<string, UsageRecord>();
  /** Every time each id arrived in a batch, duplicates included. */
  readonly uploads = new Map<string, number>();
  /** Raw bodies of batches, for shape checks. */
  readonly rawBatches: unknown[] = [];
  /** Ids whose acceptance reached the proxy in a complete answer: a later upload of one is a proxy-side duplicate. */
  readonly cleanlyAcked = new Set<string>();
  duplicatesAfterCleanAck = 0;
  readonly usageLog: UsageRequestLog[] = [];
  leaseRequests = 0;
  unauthorized = 0;
  private server: Server | undefined;
  url = "";

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  get duplicateUploads(): number {
    let n = 0;
    for (const c of this.uploads.values()) n += c - 1;
    return n;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (this.faults.down) {
      if (req.url === "/v1/usage") this.usageLog.push({ at: Date.now(), ids: [], outcome: "dropped" });
      req.socket.destroy();
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.licenseKey}`) {
      this.unauthorized++;
      return json(res, 401, { error: "unknown license key" });
    }
    if (req.method === "POST" && req.url === "/v1/leases") {
      this.leaseRequests++;
      return json(res, 200, { lease: this.faults.leaseOverride ?? (await mintLease(this.key, this.leaseSpec())) });
    }
    if (req.method === "POST" && req.url === "/v1/usage") return this.usage(req, res, JSON.parse(Buffer.concat(chunks).toString("utf8")));
    json(res, 404, { error: "no such route" });
  }

  private async usage(req: IncomingMessage, res: ServerResponse, body: { records: UsageRecord[] }): Promise<void> {
    const ids = body.records.map((r) => r.id);
    if (this.faults.usage500s > 0) {
      this.faults.usage500s--;
      this.usageLog.push({ at: Date.now(), ids, outcome: "500" });
      return json(res, 500, { error: "injected failure" });
    }
    this.rawBatches.push(body);
    const taken = this.faults.acceptAtMost === null ? body.records : body.records.slice(0, this.faults.acceptAtMost);
    for (const r of taken) {
      if (this.cleanlyAcked.has(r.id)) this.duplicatesAfterCleanAck++;
      this.uploads.set(r.id, (this.uploads.get(r.id) ?? 0) + 1);
      if (!this.records.has(r.id)) this.records.set(r.id, r);
    }
    const acceptedIds = taken.map((r) => r.id);
    if (this.faults.usageSlow > 0) {
      this.faults.usageSlow--;
      this.usageLog.push({ at: Date.now(), ids, outcome: "slow" });
      await new Promise((r) => setTimeout(r, this.faults.slowMs));
      if (req.socket.destroyed) return;
    } else {
      this.usageLog.push({ at: Date.now(), ids, outcome: "accepted" });
    }
    res.once("finish", () => {
      for (const id of acceptedIds) this.cleanlyAcked.add(id);
    });
    json(res, 200, { accepted: acceptedIds.length, accepted_ids: acceptedIds });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
