/**
 * The server's usage write-ahead file: every completed request's record is appended (one JSON line,
 * a synchronous write(2) into the page cache) in the same event-loop turn as its response's last
 * write, and the file is cut back once the license proxy has acknowledged what it holds. A SIGKILL of the server loses nothing
 * that was written (the kernel keeps the page cache); the next start replays the file. It is not
 * fsynced: a machine crash can lose the last seconds, which an emptyDir would lose anyway.
 *
 * One server process per directory (in Kubernetes: an emptyDir mounted at USAGE_WAL_DIR, which
 * survives container restarts, not pod deletion).
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync, ftruncateSync } from "node:fs";
import { join } from "node:path";
import { type UsageRecord, usageRecordSchema } from "../shared/license-protocol";
import type { Logger } from "../shared/log";

const FILE = "usage-wal.jsonl";
/** Rewrite the file with only the unacknowledged records once it grows past this. */
const COMPACT_BYTES = 1024 * 1024;

export class UsageWal {
  private fd: number;
  private readonly path: string;

  /** Opens (creating) the file in `dir` and returns the records it holds from earlier runs. */
  static open(dir: string, logger: Logger): { wal: UsageWal; replay: UsageRecord[] } {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, FILE);
    const replay: UsageRecord[] = [];
    if (existsSync(path)) {
      const lines = readFileSync(path, "utf8").split("\n");
      let damaged = 0;
      const seen = new Set<string>();
      for (const line of lines) {
        if (line === "") continue;
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          value = undefined;
        }
        const parsed = usageRecordSchema.safeParse(value);
        if (!parsed.success) damaged++;
        else if (!seen.has(parsed.data.id)) {
          seen.add(parsed.data.id);
          replay.push(parsed.data);
        }
      }
      // A line cut short by a kill mid-write is the only expected damage; log any, with the count.
      if (damaged > 0) logger.warn("usage write-ahead file: skipped damaged lines", { damaged });
      if (replay.length > 0) logger.info("usage write-ahead file: replaying records from an earlier run", { records: replay.length });
    }
    const wal = new UsageWal(path);
    // Start from a clean file holding exactly the records to replay (drops damaged lines and duplicates).
    wal.rewrite(replay);
    return { wal, replay };
  }

  private constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, "a");
  }

  append(record: UsageRecord): void {
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }

  /** After an acknowledgement: `pending` are the records still unacknowledged (the file's others are done). */
  acknowledged(pending: readonly UsageRecord[]): void {
    if (pending.length === 0) ftruncateSync(this.fd, 0);
    else if (fstatSync(this.fd).size > COMPACT_BYTES) this.rewrite(pending);
  }

  private rewrite(records: readonly UsageRecord[]): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    renameSync(tmp, this.path);
    closeSync(this.fd);
    this.fd = openSync(this.path, "a");
  }

  close(): void {
    closeSync(this.fd);
  }
}
