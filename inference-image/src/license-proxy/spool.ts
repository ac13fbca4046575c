/**
 * The durable usage spool. Two append-only files in STATE_DIR:
 *   usage.spool  one usage record per line
 *   usage.done   one id per line: records the upstream accepted, or that were exported to a file
 * Each line is `<crc32 hex> <json>\n`, so a torn last line after a crash (or a damaged one) is
 * detected and dropped with a warning while everything else is recovered. Records are pending while
 * in the spool and not in the done file.
 *
 * Appends use group commit: requests that arrive while a write+fsync is in flight are written
 * together by the next one, so throughput grows with concurrency instead of paying one fsync each.
 * A caller's promise resolves only after its records are on disk: that is when the proxy may ack.
 * When the done file has grown as large as what is pending, the spool is rewritten with only the
 * pending records (atomic replace), then the done file is emptied; a crash between the two leaves
 * done ids for records that no longer exist, which is harmless.
 */
import { open, readFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { Logger } from "../shared/log";
import type { UsageRecord } from "../shared/license-protocol";
import { fsyncDir, writeFileAtomic } from "./files";

export type SettledHow = "accepted" | "exported";

interface Frames<T> {
  items: T[];
  /** Byte length of the well-formed prefix, up to and including the last good line. */
  goodLength: number;
  tornTail: boolean;
  corrupt: number;
}

export function encodeFrame(value: unknown): string {
  const json = JSON.stringify(value);
  return `${crc32(json).toString(16).padStart(8, "0")} ${json}\n`;
}

/** Parse framed lines; an unterminated last line is a torn tail (cut off there), any complete bad line is corruption (skipped). */
export function decodeFrames<T>(buf: Buffer, accept: (value: unknown) => value is T): Frames<T> {
  const items: T[] = [];
  let start = 0;
  let goodLength = 0;
  let corrupt = 0;
  let tornTail = false;
  while (start < buf.length) {
    const nl = buf.indexOf(0x0a, start);
    const end = nl === -1 ? buf.length : nl;
    const line = buf.toString("utf8", start, end);
    let value: unknown;
    let ok = false;
    if (nl !== -1 && line.length > 9 && line[8] === " ") {
      const json = line.slice(9);
      if (/^[0-9a-f]{8}$/.test(line.slice(0, 8)) && parseInt(line.slice(0, 8), 16) === crc32(json)) {
        try {
          value = JSON.parse(json);
          ok = accept(value);
        } catch {
          ok = false;
        }
      }
    }
    if (ok) {
      items.push(value as T);
      goodLength = end + 1;
    } else if (nl === -1) {
      // Only a line without its newline is a write cut off mid-way; a complete bad line was written whole (and perhaps acknowledged).
      tornTail = true;
    } else {
      corrupt++;
      goodLength = end + 1;
    }
    if (nl === -1) break;
    start = nl + 1;
  }
  return { items, goodLength, tornTail, corrupt };
}

const isRecord = (v: unknown): v is UsageRecord => typeof v === "object" && v !== null && typeof (v as { id?: unknown }).id === "string";
const isDone = (v: unknown): v is { id: string; how: SettledHow } => typeof v === "object" && v !== null && typeof (v as { id?: unknown }).id === "string";

interface QueuedAppend {
  records: UsageRecord[];
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * An append-only framed file with a known size, so a failed write can be cut back off. A rewrite that
 * fails (ENOSPC) leaves the old file and its handle as they were; a handle lost after a rewrite is
 * reopened by the next write, so the file never stays closed once space is back.
 */
class FramedFile {
  private constructor(
    readonly path: string,
    private fh: FileHandle | null,
    private size: number,
  ) {}

  static async open(path: string): Promise<FramedFile> {
    const f = new FramedFile(path, null, 0);
    await f.handle();
    return f;
  }

  private async handle(): Promise<FileHandle> {
    if (!this.fh) {
      const fh = await open(this.path, "a", 0o600);
      this.size = (await fh.stat()).size;
      this.fh = fh;
    }
    return this.fh;
  }

  async append(data: string): Promise<void> {
    const buf = Buffer.from(data, "utf8");
    const fh = await this.handle();
    const before = this.size;
    try {
      let off = 0;
      while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, null)).bytesWritten;
      await fh.datasync();
      this.size += buf.length;
    } catch (e) {
      // A partial frame would swallow the next one into a corrupt line: cut the file back.
      await fh.truncate(before).catch(() => undefined);
      throw e;
    }
  }

  async replace(data: string): Promise<void> {
    if (data === "") return this.empty();
    // Write the new file first: on failure the old one and its handle are untouched.
    await writeFileAtomic(this.path, data);
    const old = this.fh;
    this.fh = null;
    await old?.close().catch(() => undefined);
    await this.handle();
  }

  /** Cut to nothing in place: needs no free space, so a full disk can always be emptied. */
  private async empty(): Promise<void> {
    const fh = await this.handle();
    await fh.truncate(0);
    await fh.sync();
    this.size = 0;
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = null;
  }
}

export interface SpoolRecovery {
  recovered: number;
  tornTails: number;
  corruptLines: number;
}

export class Spool {
  private readonly pending = new Map<string, UsageRecord>();
  private queue: QueuedAppend[] = [];
  private flushScheduled = false;
  private lock: Promise<void> = Promise.resolve();
  private doneLines = 0;
  /** The last spool write's error, null once a write succeeds again: health is not ok while set. */
  writeError: string | null = null;

  private constructor(
    private readonly spoolFile: FramedFile,
    private readonly doneFile: FramedFile,
    private readonly log: Logger,
    readonly recovery: SpoolRecovery,
  ) {}

  static async open(dir: string, log: Logger): Promise<Spool> {
    const spoolPath = join(dir, "usage.spool");
    const donePath = join(dir, "usage.done");
    const done = await Spool.recoverFile(donePath, isDone, log);
    const records = await Spool.recoverFile(spoolPath, isRecord, log);
    await fsyncDir(dir);
    const doneIds = new Set(done.items.map((d) => d.id));
    const spool = new Spool(await FramedFile.open(spoolPath), await FramedFile.open(donePath), log, {
      recovered: 0,
      tornTails: Number(done.tornTail) + Number(records.tornTail),
      corruptLines: done.corrupt + records.corrupt,
    });
    for (const r of records.items) if (!doneIds.has(r.id)) spool.pending.set(r.id, r);
    spool.doneLines = done.items.length;
    spool.recovery.recovered = spool.pending.size;
    return spool;
  }

  private static async recoverFile<T>(path: string, accept: (v: unknown) => v is T, log: Logger): Promise<Frames<T>> {
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { items: [], goodLength: 0, tornTail: false, corrupt: 0 };
      throw e;
    }
    const frames = decodeFrames(buf, accept);
    if (frames.corrupt > 0) log.warn("damaged lines in the usage spool were skipped: they were complete, so they may have been acknowledged, and their records are lost", { file: path, lines: frames.corrupt });
    if (frames.tornTail) {
      log.warn("torn last line in the usage spool (a write cut off by a crash); it was never acknowledged and is dropped", {
        file: path,
        dropped_bytes: buf.length - frames.goodLength,
      });
      const fh = await open(path, "r+");
      try {
        await fh.truncate(frames.goodLength);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    return frames;
  }

  get depth(): number {
    return this.pending.size;
  }

  /** Resolves once every record is durably spooled (records already pending are not written twice). */
  append(records: UsageRecord[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        void this.exclusive(() => this.flush());
      }
    });
  }

  /** Oldest pending records first. */
  oldest(limit: number): UsageRecord[] {
    const out: UsageRecord[] = [];
    for (const r of this.pending.values()) {
      if (out.length >= limit) break;
      out.push(r);
    }
    return out;
  }

  all(): UsageRecord[] {
    return [...this.pending.values()];
  }

  /**
   * Record that these ids are settled (accepted upstream, or exported) and drop them from the pending
   * set. If the done file cannot be written (a full STATE_DIR) they are settled in memory anyway, so a
   * full spool still drains: a restart before the next compaction uploads them again, and the
   * upstream deduplicates them by id. Once nothing is pending both files are cut in place, which
   * frees the disk without needing any space.
   */
  markDone(ids: readonly string[], how: SettledHow): Promise<number> {
    return this.exclusive(async () => {
      const settled = [...new Set(ids)].filter((id) => this.pending.has(id));
      if (settled.length === 0) return 0;
      try {
        await this.doneFile.append(settled.map((id) => encodeFrame({ id, how })).join(""));
        this.writeError = null;
      } catch (e) {
        this.failed("usage done-file write failed; settling in memory (a restart may upload these again)", e);
      }
      for (const id of settled) this.pending.delete(id);
      this.doneLines += settled.length;
      if (this.doneLines >= Math.max(1000, this.pending.size) || this.pending.size === 0) {
        try {
          await this.compact();
        } catch (e) {
          this.failed("usage spool compaction failed; retried at the next settlement", e);
        }
      }
      return settled.length;
    });
  }

  private failed(msg: string, e: unknown): void {
    this.writeError = (e as Error).message;
    this.log.error(msg, { error: this.writeError });
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      await this.spoolFile.close();
      await this.doneFile.close();
    });
  }

  private async compact(): Promise<void> {
    await this.spoolFile.replace([...this.pending.values()].map(encodeFrame).join(""));
    await this.doneFile.replace("");
    this.doneLines = 0;
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    const fresh = new Map<string, UsageRecord>();
    for (const q of batch) for (const r of q.records) if (!this.pending.has(r.id)) fresh.set(r.id, r);
    try {
      if (fresh.size > 0) await this.spoolFile.append([...fresh.values()].map(encodeFrame).join(""));
      this.writeError = null;
    } catch (e) {
      this.failed("usage spool write failed; the request is refused so the caller retries", e);
      for (const q of batch) q.reject(e as Error);
      return;
    }
    for (const [id, r] of fresh) this.pending.set(id, r);
    for (const q of batch) q.resolve();
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
