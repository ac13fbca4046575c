/**
 * One JSON line per event on stdout, for both programs. Callers pass metadata only: audio, text and
 * transcripts must never reach a log line (the server logs sizes, durations and status codes).
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

function parseLevel(value: string | undefined): LogLevel {
  return value && value in ORDER ? (value as LogLevel) : "info";
}

export function createLogger(component: string, options: { level?: string; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[parseLevel(options.level ?? process.env.LOG_LEVEL)];
  const write = options.write ?? ((line: string) => process.stdout.write(line + "\n"));
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...fields }));
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
  };
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = createLogger("silent", { level: "error", write: () => undefined });
