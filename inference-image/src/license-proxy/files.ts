/** Durable file primitives for STATE_DIR: atomic replace, directory fsync, and one owner per directory. */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** fsync a directory so a create, rename or unlink inside it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replace `path` atomically: write a temp file beside it, fsync, rename over, fsync the directory. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fh = await open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

export async function ensureStateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

export class StateDirLockedError extends Error {
  constructor(readonly pid: number) {
    super(`another license proxy (pid ${pid}) owns this STATE_DIR; each replica needs its own volume`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Take STATE_DIR for this process: two writers on one spool would corrupt it (two replicas on one
 * shared volume, or the export command beside a running proxy). A lock left by a dead process, or by
 * an earlier life of this same pid (pid 1 in a restarted container), is taken over.
 */
export async function lockStateDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, "proxy.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, "wx", 0o600);
      await fh.writeFile(String(process.pid));
      await fh.sync();
      await fh.close();
      return async () => {
        await unlink(path).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new StateDirLockedError(pid);
      await unlink(path).catch(() => undefined);
    }
  }
  throw new Error(`cannot take ${path}: it keeps reappearing (another proxy starting at the same time?)`);
}
