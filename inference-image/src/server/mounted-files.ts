/**
 * Applies files mounted from a Kubernetes Secret again when they change, without a restart: the API keys
 * file (keys-watcher.ts) and the TLS certificate and key (tls.ts).
 *
 * Kubernetes updates a mounted Secret by writing a new timestamped directory and swapping the `..data`
 * symlink to it; the files we are given are symlinks through `..data`, so they never change in place and
 * an inotify watch on them (or on their old targets) sees nothing. So: stat the paths every interval (stat
 * follows the symlinks, and the swap shows as new inodes; a stat a second is nothing). A change applies
 * once two looks in a row agree, within two intervals, so a file someone rewrites in place is not read
 * half-written (an empty API keys file would revoke every key). Contents that fail to apply leave the last
 * good ones in force; the caller logs and counts the failure.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";

export interface MountedFilesWatcher {
  /** Look now (what the timer calls). */
  check(): void;
  stop(): void;
}

export interface MountedFilesOptions {
  /** The files as mounted (paths through the volume's `..data` symlink); all of them change together. */
  readonly files: readonly string[];
  /** Reads and applies the files; throws when they cannot be applied, leaving what was in force. */
  apply(): void;
  /** A change that could not be applied; the last good contents stay in force. */
  failed(err: Error): void;
  readonly intervalMs?: number;
}

export function watchMountedFiles(options: MountedFilesOptions): MountedFilesWatcher {
  const { files } = options;
  const signature = (): string =>
    files
      .map((file) => {
        try {
          const s = statSync(file);
          return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch (err) {
          return `missing:${(err as NodeJS.ErrnoException).code}`;
        }
      })
      .join("|");
  const contentHash = (): string | undefined => {
    try {
      const hash = createHash("sha256");
      for (const file of files) hash.update(createHash("sha256").update(readFileSync(file)).digest());
      return hash.digest("hex");
    } catch {
      return undefined;
    }
  };
  let lastSignature = signature();
  let lastContent = contentHash();
  let failedContent: string | undefined;
  let pending: string | undefined;

  const check = () => {
    const sig = signature();
    if (sig === lastSignature) {
      pending = undefined;
      return;
    }
    if (sig !== pending) {
      pending = sig;
      return;
    }
    pending = undefined;
    lastSignature = sig;
    const content = contentHash();
    // A swap that rewrote the same bytes, or the same bad contents seen again: nothing new to apply or report.
    if (content === lastContent || (content !== undefined && content === failedContent)) return;
    try {
      options.apply();
      lastContent = content;
      failedContent = undefined;
    } catch (err) {
      failedContent = content;
      options.failed(err as Error);
    }
  };

  const timer = setInterval(check, options.intervalMs ?? 1000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
