/** Per-file setup of the fault tests that need one server: build the image, start it, kill it at the end. Registers jest hooks. */
import type { ProxyProcess } from "../license/helpers";
import { buildServer, startServer } from "./helpers";

export function serverHarness(env: Record<string, string> = {}): { readonly server: ProxyProcess } {
  let server: ProxyProcess | undefined;
  beforeAll(async () => {
    buildServer();
    server = await startServer(env);
  });
  afterAll(async () => {
    await server?.kill();
  });
  return {
    get server() {
      if (!server) throw new Error("the server starts in beforeAll: read it from a test");
      return server;
    },
  };
}
