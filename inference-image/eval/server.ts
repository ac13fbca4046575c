/**
 * The inference server for an evaluation, in this process (so its CPU time is this process's), configured from
 * the environment as `npm start` is: engine settings such as POCKETSPHINX_* and WORKERS apply.
 */
import { randomBytes } from "node:crypto";
import { createSpeech, engineConfigFromEnv } from "../src/engines";
import { createInferenceServer } from "../src/server/app";
import { ApiKeys, parseKeysFile } from "../src/server/auth";
import { serverConfigFromEnv } from "../src/server/config";

export interface EvalServer {
  base: string;
  key: string;
  stop(): Promise<void>;
}

export async function startEvalServer(env: NodeJS.ProcessEnv = process.env): Promise<EvalServer> {
  const key = randomBytes(16).toString("hex");
  const speech = await createSpeech(engineConfigFromEnv(env));
  const app = createInferenceServer({ speech, config: serverConfigFromEnv(env), keys: new ApiKeys(parseKeysFile(key, "eval")) });
  const address = await app.listen(0, "127.0.0.1");
  return {
    base: `http://127.0.0.1:${address.port}`,
    key,
    async stop() {
      await app.close();
      await speech.close();
    },
  };
}
