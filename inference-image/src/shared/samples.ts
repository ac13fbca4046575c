/** Sample buffers shared by the engines and the API layer. */

/** Join sample chunks into one buffer of the same type (one chunk is returned as it is). */
export function concatSamples<T extends Float32Array | Int16Array>(parts: T[]): T {
  if (parts.length === 1) return parts[0];
  const length = parts.reduce((n, p) => n + p.length, 0);
  const out = (parts[0] instanceof Int16Array ? new Int16Array(length) : new Float32Array(length)) as T;
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
