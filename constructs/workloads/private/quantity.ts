/** Kubernetes resource quantities, as far as the workloads need them: CPU in cores, memory in bytes. */

const MEMORY_SUFFIXES: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** `"500m"` -> 0.5, `"2"` -> 2; undefined when it is not a CPU quantity. */
export function parseCpu(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(value);
  if (!m) return undefined;
  return m[2] === "m" ? Number(m[1]) / 1000 : Number(m[1]);
}

/** `"8Gi"` -> 8589934592; undefined when it is not a memory quantity. */
export function parseMemory(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * MEMORY_SUFFIXES[m[2] ?? ""];
}
