/**
 * Reloads API_KEYS_FILE when it changes, without a restart.
 *
 * Kubernetes updates a mounted Secret by writing a new timestamped directory and swapping the `..data`
 * symlink to it; the file we were given is a symlink through `..data`, so it never changes in place and
 * an inotify watch on it (or on its old target) sees nothing. So: stat the path every interval (stat
 * follows the symlinks, and the swap shows as a new inode; a stat a second is nothing). A change applies
 * once two looks in a row agree, within two intervals, so a file someone rewrites in place is not read
 * half-written (an empty read would revoke every key). A document that fails to parse leaves the last
 * good one in force, with an error log and `reloadFailures` counted (a metric).
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { Logger } from "../shared/log";
import { type ApiKeys, loadTeams } from "./auth";

export interface KeysWatcher {
  /** Look now (what the timer calls). */
  check(): void;
  stop(): void;
}

export function watchKeysFile(keys: ApiKeys, env: NodeJS.ProcessEnv, logger: Logger, intervalMs = 1000): KeysWatcher {
  const file = env.API_KEYS_FILE;
  if (!file) throw new Error("watchKeysFile needs API_KEYS_FILE");
  const signature = (): string => {
    try {
      const s = statSync(file);
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (err) {
      return `missing:${(err as NodeJS.ErrnoException).code}`;
    }
  };
  const contentHash = (): string | undefined => {
    try {
      return createHash("sha256").update(readFileSync(file)).digest("hex");
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
    // A swap that rewrote the same bytes, or the same bad document seen again: nothing new to apply or report.
    if (content === lastContent || (content !== undefined && content === failedContent)) return;
    try {
      const teams = loadTeams(env);
      keys.replace(teams);
      lastContent = content;
      failedContent = undefined;
      logger.info("API keys reloaded", { teams: teams.length, keys: keys.size });
    } catch (err) {
      failedContent = content;
      keys.reloadFailures++;
      logger.error("API keys reload failed; the last good keys stay in force", { error: (err as Error).message });
    }
  };

  const timer = setInterval(check, intervalMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
