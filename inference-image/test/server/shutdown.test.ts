/**
 * A rollout's shutdown, end to end: two built servers behind a stand-in for the load balancer (a TCP
 * forwarder that, like the NLB, sends each new connection to a registered backend and keeps a connection
 * on the backend it started on), and a keep-alive client (node:http Agent) sending speech requests
 * back to back. Backend A is deregistered for new connections (what the pod's preStop waits for), then gets
 * SIGTERM while the client's pooled connections to it are open, busy or idle. Every request must succeed:
 * A answers what arrives on its open connections with Connection: close instead of resetting idle ones,
 * and exits 0.
 */
import { Agent, request } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { ProxyProcess } from "../license/helpers";
import { buildServer, KEY, startServer } from "../fault/helpers";

jest.setTimeout(240_000);

interface Backend {
  readonly name: string;
  readonly port: number;
  registered: boolean;
  connections: number;
}

/** The load balancer's part: new connections round-robin over registered backends; open ones stay where they are. */
function forwarder(backends: Backend[]): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const live = backends.filter((b) => b.registered);
    const backend = live[next++ % live.length];
    backend.connections++;
    const upstream = connect(backend.port, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once("close", () => sockets.delete(s));
    }
    // A reset on one side is a reset on the other, as through the NLB.
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as { port: number }).port, sockets })));
}

interface Outcome {
  ok: number;
  closedByServer: number;
  failures: string[];
}

/** One speech request on the agent's pooled connections. */
function speak(port: number, agent: Agent, outcome: Outcome): Promise<void> {
  const body = JSON.stringify({ model: "tts-1", input: "ok", response_format: "wav" });
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, method: "POST", path: "/v1/audio/speech", agent, headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) outcome.ok++;
          else outcome.failures.push(`HTTP ${res.statusCode}`);
          if (res.headers.connection === "close") outcome.closedByServer++;
          resolve();
        });
        res.on("error", (e) => {
          outcome.failures.push(`response: ${e.message}`);
          resolve();
        });
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => {
      outcome.failures.push(`${e.code ?? ""} ${e.message}`);
      resolve();
    });
    req.end(body);
  });
}

let servers: ProxyProcess[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.kill()));
});

it("SIGTERM with a keep-alive client sending continuously: no request fails, and the server exits 0", async () => {
  buildServer();
  const env = { WORKERS: "1", BATCH_WORKERS: "1", STREAMS_PER_WORKER: "1", SHUTDOWN_GRACE_MS: "20000" };
  servers = await Promise.all([startServer(env), startServer(env)]);
  const [a, b] = servers;
  const backends: Backend[] = [
    { name: "a", port: a.port, registered: true, connections: 0 },
    { name: "b", port: b.port, registered: true, connections: 0 },
  ];
  const front = await forwarder(backends);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const outcome: Outcome = { ok: 0, closedByServer: 0, failures: [] };

  // Eight connections, then four loops: the pool keeps the other connections idle, as a real client's does.
  await Promise.all(Array.from({ length: 8 }, () => speak(front.port, agent, outcome)));
  let sending = true;
  const loops = Array.from({ length: 4 }, async () => {
    while (sending) await speak(front.port, agent, outcome);
  });
  const waitFor = async (done: () => boolean) => {
    while (!done()) await speak(front.port, agent, outcome);
  };
  await waitFor(() => outcome.ok >= 40);

  // The NLB has stopped sending A new connections (preStop outlasted its health check), then the kubelet sends SIGTERM.
  backends[0].registered = false;
  const okBeforeTerm = outcome.ok;
  a.child.kill("SIGTERM");
  const exitCode = await a.exited();
  // Keep sending a little after A is gone: its connections must have moved to B without an error.
  const okAtExit = outcome.ok;
  await waitFor(() => outcome.ok >= okAtExit + 20);
  sending = false;
  await Promise.all(loops);
  agent.destroy();
  front.server.close();
  for (const s of front.sockets) s.destroy();

  expect(outcome.failures).toEqual([]);
  expect(exitCode).toBe(0);
  // A answered requests after SIGTERM on its open connections, each with Connection: close.
  expect(outcome.closedByServer).toBeGreaterThan(0);
  expect(outcome.ok).toBeGreaterThan(okBeforeTerm + 20);
  expect(a.logs.find((l) => l.msg === "stopped")).toBeDefined();
  expect(a.logs.filter((l) => l.level === "error")).toEqual([]);
});
