/** The server's usage write-ahead file: replay after a kill, damaged lines skipped, cut back after acknowledgements. */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { UsageRecord } from "../../src/shared/license-protocol";
import { createLogger } from "../../src/shared/log";
import { UsageWal } from "../../src/server/usage-wal";

const dir = mkdtempSync(join(tmpdir(), "usage-wal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (): UsageRecord => ({ id: randomUUID(), timestamp: new Date().toISOString(), model: "flite", features: ["tts"], status_code: 200, audio_seconds: 0, characters: 5 });
const logged: { msg: string; damaged?: number }[] = [];
const logger = createLogger("test", { level: "info", write: (line) => logged.push(JSON.parse(line) as { msg: string }) });

it("replays what an earlier run wrote, once each, skipping a damaged and a torn line", () => {
  const first = UsageWal.open(dir, logger);
  expect(first.replay).toEqual([]);
  const records = [record(), record(), record()];
  for (const r of records) first.wal.append(r);
  // Not closed: as after a SIGKILL. Then a duplicate, a damaged line and a torn tail.
  const path = join(dir, "usage-wal.jsonl");
  appendFileSync(path, `${JSON.stringify(records[0])}\n{"id":"not-a-uuid"}\n{"id":"${randomUUID()}","mod`);
  const second = UsageWal.open(dir, logger);
  expect(second.replay).toEqual(records);
  expect(logged.find((l) => l.msg.includes("damaged"))?.damaged).toBe(2);
  // The reopened file holds exactly the records to replay.
  expect(readFileSync(path, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as UsageRecord).id)).toEqual(records.map((r) => r.id));

  second.wal.acknowledged([]);
  expect(statSync(path).size).toBe(0);
  const late = record();
  second.wal.append(late);
  second.wal.close();
  expect(UsageWal.open(dir, logger).replay).toEqual([late]);
});

it("rewrites the file with only the unacknowledged records once it passes 1 MiB", () => {
  const sub = join(dir, "big");
  const { wal } = UsageWal.open(sub, logger);
  const all = Array.from({ length: 8000 }, record);
  for (const r of all) wal.append(r);
  const path = join(sub, "usage-wal.jsonl");
  expect(statSync(path).size).toBeGreaterThan(1024 * 1024);
  const pending = all.slice(-10);
  wal.acknowledged(pending);
  wal.close();
  expect(UsageWal.open(sub, logger).replay).toEqual(pending);
});
