/**
 * Prometheus helpers shared by the server and the license proxy. Each program instance owns its own
 * Registry (not prom-client's global one) so several instances can live in one process (tests).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { collectDefaultMetrics, Registry } from "prom-client";

export function createRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Serve `GET /metrics`; scrapes need no API key (the NetworkPolicy limits who can reach the port). */
export async function serveMetrics(registry: Registry, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await registry.metrics();
  res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
  res.end(body);
}

/** Latency buckets (seconds) for HTTP handlers: fine-grained below 100 ms, where health and TTS first bytes live. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
