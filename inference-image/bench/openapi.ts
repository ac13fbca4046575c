/**
 * The OpenAPI document, generated per request from the route table and the parameter schemas (zod's own JSON
 * Schema generator): how long one generation takes, in-process, and what it covers.
 *   npm run bench:openapi -w inference-image
 */
import type { Speech } from "../src/engines/types";
import type { Deps } from "../src/server/context";
import { openApiDocument } from "../src/server/openapi";
import { routeTable } from "../src/server/routes";
import { ms, pct } from "./server";

const RUNS = 500;
const WARMUP = 50;

function main(): void {
  // Only the model names are read from the engines; nothing is served.
  const speech = { stt: { id: "pocketsphinx-en-us", kind: "stt" }, tts: { id: "flite", kind: "tts", voices: ["slt"] } } as unknown as Speech;
  const routes = routeTable({ speech } as Deps, { shuttingDown: () => false });
  for (let i = 0; i < WARMUP; i++) openApiDocument(speech, routes);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    openApiDocument(speech, routes);
    times.push(performance.now() - t0);
  }
  const doc = openApiDocument(speech, routes) as { paths: Record<string, Record<string, { parameters: unknown[]; requestBody?: { content: Record<string, { schema: { properties?: object } }> } }>> };
  const operations = Object.values(doc.paths).flatMap((methods) => Object.values(methods));
  const parameters = operations.reduce((n, op) => n + op.parameters.length + Object.keys(Object.values(op.requestBody?.content ?? {})[0]?.schema.properties ?? {}).length, 0);
  console.log(
    JSON.stringify({ operations: operations.length, parameters, bytes: JSON.stringify(doc).length, generation_ms: { p50: ms(pct(times, 50)), p95: ms(pct(times, 95)), p99: ms(pct(times, 99)), n: RUNS } }),
  );
}

main();
