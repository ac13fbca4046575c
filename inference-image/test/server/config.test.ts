/** Server settings: every value that passes validation starts a server; contradicting values are refused by name. */
import { serverConfigFromEnv } from "../../src/server/config";
import { startServer } from "./helpers";

jest.setTimeout(60_000);

it("starts and serves with a REQUEST_TIMEOUT_MS below node's default 60 s headers timeout", async () => {
  const config = serverConfigFromEnv({ REQUEST_TIMEOUT_MS: "5000" });
  const s = await startServer({ config, workers: 1 });
  try {
    expect((await fetch(`${s.base}/health/live`)).status).toBe(200);
    expect(s.app.server.headersTimeout).toBe(5000);
  } finally {
    await s.stop();
  }
});

it("refuses a body budget smaller than one body, naming the setting", () => {
  expect(() => serverConfigFromEnv({ MAX_BODY_BYTES: String(8 << 20), MAX_BUFFERED_BODY_BYTES: String(4 << 20) })).toThrow(/MAX_BUFFERED_BODY_BYTES: must be at least MAX_BODY_BYTES/);
  expect(serverConfigFromEnv({ MAX_BODY_BYTES: String(8 << 20), MAX_BUFFERED_BODY_BYTES: String(8 << 20) }).MAX_BUFFERED_BODY_BYTES).toBe(8 << 20);
});
