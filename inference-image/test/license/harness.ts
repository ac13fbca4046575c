/**
 * The per-file setup of the proxy process tests, in one place: compile the proxy before all tests,
 * kill every proxy a test started once it ends, then close sockets and remove scratch folders.
 * With `upstream: true` each test also gets a fresh FakeUpstream, stopped after its proxies.
 * Registers jest hooks, so it lives apart from helpers.ts (which the license bench compiles too).
 */
import { FakeUpstream } from "./fake-upstream";
import { buildProxy, cleanUp, ProxyProcess } from "./helpers";

export interface ProxyHarness {
  /** The folder holding the compiled license-proxy/*.js (set in beforeAll). */
  readonly build: string;
  /** This test's fake license server (only with `upstream: true`). */
  readonly upstream: FakeUpstream;
  /** Start a proxy process that is killed when the test ends. */
  start(env: Record<string, string>, opts?: { expectExit?: boolean }): Promise<ProxyProcess>;
}

export function proxyHarness(opts: { upstream?: boolean } = {}): ProxyHarness {
  let build: string | undefined;
  let upstream: FakeUpstream | undefined;
  const procs: ProxyProcess[] = [];
  beforeAll(() => {
    build = buildProxy();
  });
  if (opts.upstream) {
    beforeEach(async () => {
      upstream = new FakeUpstream();
      await upstream.start();
    });
  }
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
    await upstream?.stop();
  });
  afterAll(() => cleanUp());

  const harness: ProxyHarness = {
    get build() {
      if (build === undefined) throw new Error("the proxy is compiled in beforeAll: read build from a test");
      return build;
    },
    get upstream() {
      if (upstream === undefined) throw new Error("proxyHarness({ upstream: true }) gives each test a FakeUpstream");
      return upstream;
    },
    async start(env, startOpts) {
      const p = await ProxyProcess.start(harness.build, env, startOpts);
      procs.push(p);
      return p;
    },
  };
  return harness;
}
