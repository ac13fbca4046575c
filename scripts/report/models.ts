/** The speech models each inference service of a workloads stack runs: engine, where its weights come from, provider. */
import { containersOf, podSpecOf, StackView } from "../../constructs/policy/stack-view";
import { BUILTIN_ENGINES, SERVER_ENV } from "../../constructs/workloads/contract";

export interface ModelLine {
  /** The Deployment that serves it (`inference`, or `stt` / `tts` when split). */
  readonly service: string;
  readonly kind: "stt" | "tts";
  readonly engine: string;
  /** `s3://<bucket>/<prefix>/` (copied by the model-sync init container), a directory in the image, or "built in". */
  readonly location: string;
  readonly provider: string;
}

/** Read from what the stack deploys (the server's ConfigMap and the pod's init containers), not from the environment file. */
export function modelsOf(stack: StackView): ModelLine[] {
  const lines: ModelLine[] = [];
  const deployments = stack.resources.filter((r) => r.object?.kind === "Deployment");
  for (const r of stack.resources) {
    const data = r.object?.kind === "ConfigMap" ? (r.object.data as Record<string, string> | undefined) : undefined;
    if (!data?.[SERVER_ENV.sttEngine]) continue;
    const service = String(r.object!.metadata.name).replace(/-config$/, "");
    const spec = podSpecOf(deployments.find((d) => d.object!.metadata.name === service)?.object);
    const init = spec ? containersOf(spec, { includeInit: true }) : [];
    for (const kind of ["stt", "tts"] as const) {
      const engine = data[kind === "stt" ? SERVER_ENV.sttEngine : SERVER_ENV.ttsEngine];
      const dir = data[kind === "stt" ? SERVER_ENV.sttModelDir : SERVER_ENV.ttsModelDir];
      const sync = init.find((c) => c.name === `model-sync-${kind}`);
      const from = (sync?.command as string[] | undefined)?.find((a) => a.startsWith("s3://"));
      const location = BUILTIN_ENGINES.includes(engine) ? "built in" : from ? `${from.replace(/\$\{[^}]*\}/, "<model bucket>")} (copied to ${dir})` : `${dir} (in the image)`;
      lines.push({ service, kind, engine, location, provider: data[kind === "stt" ? SERVER_ENV.sttProvider : SERVER_ENV.ttsProvider] ?? "cpu" });
    }
  }
  return lines;
}
