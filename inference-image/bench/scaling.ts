/**
 * The autoscaling rule on metric values from a running server (the built server in its own process):
 *   npm run bench:scaling -w inference-image
 * One replica (WORKERS=1, BATCH_WORKERS=1, STREAMS_PER_WORKER=4, QUEUE_MAX=8) is loaded at 1x, 2x and 4x
 * the capacity of each engine lane: closed-loop clients sending 5 s transcriptions (batch lane, capacity
 * 1) and real-time live streams (live lane, capacity 4 streams). During a steady window /metrics is
 * scraped every 250 ms; the median `inference_load_ratio{lane}` is what the HPA averages over pods. The
 * HPA's rule is then applied to it (Kubernetes' documented algorithm): desired = ceil(current x
 * metric / target), unchanged while |metric / target - 1| <= 0.1, with the stack's target (0.8) and
 * with 1.0 for comparison. Prints a JSON summary and a Markdown table.
 */
import { WebSocket } from "ws";
import { auth, fitWav, KEY, pct, startServer, synthesize } from "./server";

const CLIP_TEXT = "the quick brown fox jumps over the lazy dog and then runs far away into the quiet forest";
const POOL = { WORKERS: "1", BATCH_WORKERS: "1", STREAMS_PER_WORKER: "4", QUEUE_MAX: "8" };
const MULTIPLES = [1, 2, 4];
const TARGETS = [0.8, 1.0];
const TOLERANCE = 0.1;
const WARMUP_MS = 4000;
const WINDOW_MS = 12000;

/** The HPA's rule for one metric (kube-controller-manager's default tolerance). */
export function desiredReplicas(current: number, metric: number, target: number): number {
  const ratio = metric / target;
  return Math.abs(ratio - 1) <= TOLERANCE ? current : Math.ceil(current * ratio);
}

/**
 * Where the HPA settles for a lane whose ratio one replica caps at `cap` (the live lane refuses streams
 * beyond its capacity: measured above, its ratio stays at 1 under 2x and 4x): each sync applies the rule
 * to the per-replica ratio of the demand spread over the replicas. A model built on the measured cap,
 * not a measurement of several replicas.
 */
export function converge(demand: number, target: number, cap: number, maxSteps = 20): number[] {
  const steps = [1];
  for (let i = 0; i < maxSteps; i++) {
    const current = steps[steps.length - 1];
    const next = desiredReplicas(current, Math.min(cap, demand / current), target);
    if (next === current) break;
    steps.push(next);
  }
  return steps;
}

/** `name{lane="x"} value` lines of the Prometheus text format, by lane. */
function gauge(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}\\{lane="(\\w+)"\\} ([\\d.eE+-]+)$`, "gm"))) out[m[1]] = Number(m[2]);
  return out;
}

interface Sampled {
  lane: string;
  multiple: number;
  clients: number;
  capacity: number;
  samples: number;
  ratio_median: number;
  ratio_min: number;
  ratio_max: number;
  refused: number;
  completed: number;
  desired: Record<string, number>;
}

/** Runs `client` in `clients` parallel loops until stopped, scraping the load ratio of `lane` through the steady window. */
async function sample(base: string, lane: string, multiple: number, clients: number, client: (stop: () => boolean) => Promise<{ refused: number; completed: number }>): Promise<Sampled> {
  let stopped = false;
  const runs = Array.from({ length: clients }, () => client(() => stopped));
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const ratios: number[] = [];
  let capacity = NaN;
  const end = Date.now() + WINDOW_MS;
  while (Date.now() < end) {
    const text = await (await fetch(`${base}/metrics`)).text();
    ratios.push(gauge(text, "inference_load_ratio")[lane]);
    capacity = gauge(text, "inference_capacity")[lane];
    await new Promise((r) => setTimeout(r, 250));
  }
  stopped = true;
  const results = await Promise.all(runs);
  const median = pct(ratios, 50);
  return {
    lane,
    multiple,
    clients,
    capacity,
    samples: ratios.length,
    ratio_median: median,
    ratio_min: Math.min(...ratios),
    ratio_max: Math.max(...ratios),
    refused: results.reduce((n, r) => n + r.refused, 0),
    completed: results.reduce((n, r) => n + r.completed, 0),
    desired: Object.fromEntries(TARGETS.map((t) => [String(t), desiredReplicas(1, median, t)])),
  };
}

/** A closed-loop batch client: one 5 s transcription after another. */
const batchClient = (base: string, clip: Buffer) => async (stop: () => boolean) => {
  let refused = 0;
  let completed = 0;
  while (!stop()) {
    const res = await fetch(`${base}/v1/listen?model=nova-3`, { method: "POST", headers: { ...auth, "content-type": "audio/wav" }, body: clip });
    await res.arrayBuffer();
    if (res.status === 429) {
      refused++;
      await new Promise((r) => setTimeout(r, 200));
    } else completed++;
  }
  return { refused, completed };
};

/** A live stream at real time (100 ms frames of the clip, looped) until stopped; a refused stream retries after a second. */
const liveClient = (port: number, clip: Buffer) => async (stop: () => boolean) => {
  let refused = 0;
  let completed = 0;
  const pcm = clip.subarray(44);
  const frame = 3200;
  while (!stop()) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/listen?encoding=linear16&sample_rate=16000`, { headers: { authorization: `Token ${KEY}` } });
    const opened = await new Promise<boolean>((resolve) => {
      ws.once("open", () => resolve(true));
      ws.once("error", () => resolve(false));
      ws.once("unexpected-response", () => resolve(false));
    });
    // A stream beyond the live lane's capacity is refused: the server closes it at once.
    const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
    let open = opened;
    void closed.then(() => (open = false));
    for (let i = 0; open && !stop(); i = (i + frame) % pcm.length) {
      ws.send(pcm.subarray(i, i + frame));
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!open && !stop()) {
      refused++;
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    ws.close();
    await closed;
    completed++;
  }
  return { refused, completed };
};

async function main(): Promise<void> {
  Object.assign(process.env, POOL);
  const { child, base, port } = await startServer();
  try {
    const clip = fitWav(await synthesize(base, CLIP_TEXT), 5);
    const results: Sampled[] = [];
    for (const multiple of MULTIPLES) results.push(await sample(base, "batch", multiple, multiple * Number(POOL.BATCH_WORKERS), batchClient(base, clip)));
    const streams = Number(POOL.WORKERS) * Number(POOL.STREAMS_PER_WORKER);
    for (const multiple of MULTIPLES) results.push(await sample(base, "live", multiple, multiple * streams, liveClient(port, clip)));
    // The live lane's ratio is capped at 1 per replica: the HPA reaches the demand over several syncs.
    const liveConvergence = MULTIPLES.map((m) => ({ demand: `${m}x`, replicas_by_sync: converge(m, 0.8, 1) }));
    console.log(JSON.stringify({ pool: POOL, tolerance: TOLERANCE, warmup_ms: WARMUP_MS, window_ms: WINDOW_MS, results, live_convergence_model: liveConvergence }, null, 2));
    console.log(
      [
        "| lane | load | clients | capacity | load ratio median (min-max, n) | desired at target 0.8 | desired at target 1.0 | refused | completed |",
        "|---|---|---|---|---|---|---|---|---|",
        ...results.map(
          (r) =>
            `| ${r.lane} | ${r.multiple}x | ${r.clients} | ${r.capacity} | ${r.ratio_median} (${r.ratio_min}-${r.ratio_max}, ${r.samples}) | ${r.desired["0.8"]} | ${r.desired["1"]} | ${r.refused} | ${r.completed} |`,
        ),
      ].join("\n"),
    );
    console.log(["", "| live demand | replicas, sync by sync (target 0.8, ratio capped at 1 per replica) |", "|---|---|", ...liveConvergence.map((c) => `| ${c.demand} | ${c.replicas_by_sync.join(" → ")} |`)].join("\n"));
  } finally {
    child.kill("SIGTERM");
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
