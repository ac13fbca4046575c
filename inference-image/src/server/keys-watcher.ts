/**
 * Reloads API_KEYS_FILE when it changes, without a restart (how a mounted Secret is watched: mounted-files.ts).
 * A document that fails to parse leaves the last good one in force, with an error log and `reloadFailures`
 * counted (a metric).
 */
import type { Logger } from "../shared/log";
import { type ApiKeys, loadTeams } from "./auth";
import { type MountedFilesWatcher, watchMountedFiles } from "./mounted-files";

export type KeysWatcher = MountedFilesWatcher;

export function watchKeysFile(keys: ApiKeys, env: NodeJS.ProcessEnv, logger: Logger, intervalMs = 1000): KeysWatcher {
  const file = env.API_KEYS_FILE;
  if (!file) throw new Error("watchKeysFile needs API_KEYS_FILE");
  return watchMountedFiles({
    files: [file],
    intervalMs,
    apply: () => {
      const teams = loadTeams(env);
      keys.replace(teams);
      logger.info("API keys reloaded", { teams: teams.length, keys: keys.size });
    },
    failed: (err) => {
      keys.reloadFailures++;
      logger.error("API keys reload failed; the last good keys stay in force", { error: err.message });
    },
  });
}
