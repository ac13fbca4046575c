/**
 * Entry point of the image (and of `npm start`): engines from the environment, API keys, the license
 * hook, then serve on PORT. SIGTERM/SIGINT: stop accepting, finish in-flight work, exit 0.
 */
import { createSpeech, engineConfigFromEnv } from "../engines";
import { FEATURES } from "../shared/license-protocol";
import { createLogger } from "../shared/log";
import { createInferenceServer } from "./app";
import { ANONYMOUS_TEAM, ApiKeys, generateApiKey, loadTeams, parseKeysFile } from "./auth";
import { FFMPEG_FORMATS, ffmpegAvailable } from "../audio/codecs/ffmpeg";
import { serverConfigFromEnv } from "./config";
import { watchKeysFile } from "./keys-watcher";
import { type LicenseGate, LocalLicense, ProxyLicense } from "./license";

async function main(): Promise<void> {
  const logger = createLogger("inference-server");
  const config = serverConfigFromEnv(process.env);
  let teams = loadTeams(process.env);
  if (teams.length === 0) {
    if (config.LICENSE_PROXY_URL) throw new Error("no API key configured: set API_KEYS or API_KEYS_FILE");
    // Local mode only: a fresh key per run, shown once, so the server is never open without one.
    const key = generateApiKey();
    teams = parseKeysFile(key, ANONYMOUS_TEAM);
    process.stderr.write(`\nNo API_KEYS configured: generated an API key for this run (shown once):\n\n  ${key}\n\n`);
  }
  const keys = new ApiKeys(teams);
  // Rotation without a restart: a changed Secret applies within a second or two.
  const watcher = process.env.API_KEYS_FILE ? watchKeysFile(keys, process.env, logger) : undefined;
  const speech = await createSpeech(engineConfigFromEnv(process.env), { logger });

  let license: LicenseGate;
  if (config.LICENSE_PROXY_URL) {
    const proxy = new ProxyLicense({
      url: config.LICENSE_PROXY_URL,
      models: Object.fromEntries(FEATURES.map((f) => [f, f === "tts" ? speech.tts.id : speech.stt.id])) as Record<(typeof FEATURES)[number], string>,
      logger,
      walDir: config.USAGE_WAL_DIR,
    });
    if (!config.USAGE_WAL_DIR) logger.warn("USAGE_WAL_DIR is not set: usage records not yet acknowledged by the proxy are lost if the server is killed");
    await proxy.start();
    license = proxy;
  } else {
    logger.warn("local mode: no LICENSE_PROXY_URL; serving without a license check and reporting no usage");
    license = new LocalLicense();
  }

  if (!ffmpegAvailable()) logger.warn(`ffmpeg not found on PATH: ${FFMPEG_FORMATS} are unavailable (every other upload format and all speech output are handled in-process)`);

  const app = createInferenceServer({ speech, config, keys, license, logger });
  const address = await app.listen(config.PORT, config.HOST);
  logger.info("listening", {
    host: address.address,
    port: address.port,
    mode: license.status().mode,
    stt_model: speech.stt.id,
    tts_model: speech.tts.id,
    api_keys: keys.size,
    teams: keys.teamList().length,
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down: finishing in-flight work", { signal });
    void (async () => {
      try {
        watcher?.stop();
        await app.close();
        await speech.close();
        logger.info("stopped");
        process.exit(0);
      } catch (err) {
        logger.error("shutdown failed", { error: (err as Error).message });
        process.exit(1);
      }
    })();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err: Error) => {
  createLogger("inference-server").error("startup failed", { error: err.message });
  process.exit(1);
});
