/**
 * cdktf records a full JavaScript stack trace (with Error.stackTraceLimit raised to the maximum) for
 * every token it creates, whatever the App's `stackTraces` option says: that option covers only
 * annotation metadata. The traces appear only in the message of a token that fails to resolve, yet
 * capturing and formatting them was ~15% of the all-environment synth. This turns them off for the
 * process; set VOICE_SELFHOST_STACK_TRACES=1 to keep them when debugging such an error.
 */
// A private cdktf module (the package declares no "exports", so the path is reachable): the token
// classes call its captureStackTrace through the module object, so replacing the export takes effect.
// `import = require` keeps the module object itself (no interop copy), so the assignment below reaches cdktf.
import stackTrace = require("cdktf/lib/tokens/private/stack-trace");

/** The environment variable that keeps cdktf's stack traces on (`1`). */
export const STACK_TRACES_ENV = "VOICE_SELFHOST_STACK_TRACES";

/** Whether this process keeps cdktf's stack traces (VOICE_SELFHOST_STACK_TRACES=1). */
export function stackTracesWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[STACK_TRACES_ENV] === "1";
}

const original = stackTrace.captureStackTrace;
const none = (): string[] => [];

/**
 * Stops (or, with `on`, restores) the stack trace capture of every cdktf token created from now on in
 * this process. Returns whether capture is now on. Throws if cdktf no longer has the hook, so an
 * upgrade that moves it fails loudly here instead of silently making synth slower.
 */
export function setTokenStackTraces(on: boolean): boolean {
  if (typeof original !== "function") throw new Error("cdktf/lib/tokens/private/stack-trace no longer exports captureStackTrace: revisit constructs/private/stack-traces.ts");
  (stackTrace as { captureStackTrace: typeof original }).captureStackTrace = on ? original : none;
  return on;
}
