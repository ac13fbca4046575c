/**
 * Live sessions give their memory back: 200 sessions opened and closed in turn on the built server
 * (WORKERS=1). Each used to build a voice activity detector (its own onnxruntime session, ~100 MB)
 * that was never freed; RSS after the last session must stay within 100 MB of RSS after the tenth.
 */
import WebSocket from "ws";
import { serverHarness } from "./harness";
import { KEY, rssBytes } from "./helpers";

jest.setTimeout(180_000);

const h = serverHarness();

const rssMiB = (pid: number) => rssBytes(pid) / (1 << 20);

/** 0.3 s of a tone, as 16 kHz linear16. */
const AUDIO = (() => {
  const b = Buffer.alloc(4800 * 2);
  for (let i = 0; i < 4800; i++) b.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / 16000)), i * 2);
  return b;
})();

function session(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/listen?encoding=linear16&sample_rate=16000`, { headers: { authorization: `Token ${KEY}` } });
    let metadata = false;
    ws.on("open", () => {
      ws.send(AUDIO);
      ws.send(JSON.stringify({ type: "CloseStream" }));
    });
    ws.on("message", (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === "Metadata") metadata = true;
    });
    ws.on("close", () => (metadata ? resolve() : reject(new Error("the session closed without its Metadata"))));
    ws.on("error", reject);
  });
}

it("keeps RSS after 200 sequential live sessions within 100 MB of RSS after the tenth", async () => {
  const pid = h.server.child.pid!;
  let afterTenth = 0;
  for (let i = 1; i <= 200; i++) {
    await session(h.server.port);
    if (i === 10) afterTenth = rssMiB(pid);
  }
  const afterLast = rssMiB(pid);
  // Printed for the record: the figures the issue asks about.
  console.log(`live sessions RSS: after 10th ${afterTenth.toFixed(0)} MiB, after 200th ${afterLast.toFixed(0)} MiB`);
  expect(afterLast - afterTenth).toBeLessThan(100);
});
