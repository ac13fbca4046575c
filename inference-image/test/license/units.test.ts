/** The proxy's pure parts, in-process: spool framing, backoff bounds, entitlement patterns, lease claims, config. */
import { generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { backoffDelayMs } from "../../src/license-proxy/backoff";
import { ConfigError, loadConfig } from "../../src/license-proxy/config";
import { entitled, LEASE_AUDIENCE, LEASE_ISSUER, loadVendorKey, verifyLease } from "../../src/license-proxy/lease";
import { decodeFrames, encodeFrame } from "../../src/license-proxy/spool";
import { generateSigningKey, mintLease } from "../../src/license-proxy/tools/mint";

const isObj = (v: unknown): v is { id: string } => typeof v === "object" && v !== null && typeof (v as { id?: unknown }).id === "string";

describe("spool framing", () => {
  const a = encodeFrame({ id: "a" });
  const b = encodeFrame({ id: "b" });
  it("reads clean frames", () => {
    expect(decodeFrames(Buffer.from(a + b), isObj)).toEqual({ items: [{ id: "a" }, { id: "b" }], goodLength: Buffer.byteLength(a + b), tornTail: false, corrupt: 0 });
  });
  it("cuts a torn tail (no newline, or zero fill) at the last good frame", () => {
    for (const tail of [b.slice(0, 7), "\0\0\0\0"]) {
      const f = decodeFrames(Buffer.from(a + tail), isObj);
      expect(f).toMatchObject({ items: [{ id: "a" }], goodLength: a.length, tornTail: true, corrupt: 0 });
    }
  });
  it("counts a complete but damaged last line as damage, not as a torn write: it may have been acknowledged", () => {
    const f = decodeFrames(Buffer.from(a + b.replace('"b"', '"c"')), isObj);
    expect(f).toMatchObject({ items: [{ id: "a" }], tornTail: false, corrupt: 1 });
  });
  it("skips a damaged line in the middle and keeps what follows", () => {
    const f = decodeFrames(Buffer.from(a + "deadbeef {}\n" + b), isObj);
    expect(f).toMatchObject({ items: [{ id: "a" }, { id: "b" }], tornTail: false, corrupt: 1 });
  });
});

describe("backoff", () => {
  it("doubles up to the cap, never below half the window", () => {
    expect(backoffDelayMs(0, 1000, 60_000, () => 0)).toBe(500);
    expect(backoffDelayMs(0, 1000, 60_000, () => 1)).toBe(1000);
    expect(backoffDelayMs(3, 1000, 60_000, () => 0)).toBe(4000);
    expect(backoffDelayMs(50, 1000, 60_000, () => 1)).toBe(60_000);
  });
});

describe("entitlements", () => {
  it("matches exact names, * and prefix* families", () => {
    expect(entitled(["*"], "anything")).toBe(true);
    expect(entitled(["whisper-*"], "whisper-large")).toBe(true);
    expect(entitled(["whisper-*"], "parakeet")).toBe(false);
    expect(entitled(["stt"], "tts")).toBe(false);
  });
});

describe("lease claims", () => {
  const vendor = generateSigningKey();
  const key = loadVendorKey(vendor.publicPem);
  const now = new Date();
  const exp = Math.floor(now.getTime() / 1000) + 60;
  it("accepts a minted lease and exposes its claims", async () => {
    const lease = await verifyLease(await mintLease(vendor, { sub: "lic", exp, grace_s: 5 }), key, { now, toleranceSeconds: 0 });
    expect(lease.claims).toMatchObject({ sub: "lic", exp, grace_s: 5, iss: LEASE_ISSUER, aud: LEASE_AUDIENCE });
  });
  it("names the missing or wrong claim", async () => {
    const noEnt = await new SignJWT({ grace_s: 1 }).setProtectedHeader({ alg: "EdDSA", kid: vendor.kid }).setIssuer(LEASE_ISSUER).setAudience(LEASE_AUDIENCE).setSubject("x").setIssuedAt().setExpirationTime(exp).sign(vendor.privateKey);
    await expect(verifyLease(noEnt, key, { now, toleranceSeconds: 0 })).rejects.toMatchObject({ reason: "BAD_CLAIMS", message: expect.stringContaining('"ent"') });
    const wrongAud = await new SignJWT({ grace_s: 1, ent: { features: [], models: [] } }).setProtectedHeader({ alg: "EdDSA", kid: vendor.kid }).setIssuer(LEASE_ISSUER).setAudience("something-else").setSubject("x").setIssuedAt().setExpirationTime(exp).sign(vendor.privateKey);
    await expect(verifyLease(wrongAud, key, { now, toleranceSeconds: 0 })).rejects.toMatchObject({ reason: "BAD_CLAIMS", message: expect.stringContaining('"aud"') });
  });
  it("refuses other algorithms and non-Ed25519 vendor keys", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const es = await new SignJWT({}).setProtectedHeader({ alg: "ES256" }).setExpirationTime(exp).sign(privateKey);
    await expect(verifyLease(es, key, { now, toleranceSeconds: 0 })).rejects.toMatchObject({ reason: "WRONG_ALGORITHM" });
    expect(() => loadVendorKey(publicKey.export({ format: "pem", type: "spki" }).toString())).toThrow(/must be Ed25519, got ec/);
  });
});

describe("config", () => {
  const vendor = generateSigningKey();
  it("reads an online configuration with defaults", () => {
    const c = loadConfig({ LICENSE_SERVER_URL: "https://license.example/", LICENSE_KEY: "k", LICENSE_PUBLIC_KEY: vendor.publicPem });
    expect(c).toMatchObject({ port: 3369, mode: "online", licenseServerUrl: "https://license.example", graceSeconds: 86400, batchSize: 1000, stateDir: "/var/lib/license-proxy" });
  });
  it("lists every bad variable at once", () => {
    const bad = () => loadConfig({ PORT: "70000", USAGE_BATCH_SIZE: "0", LICENSE_KEY: "k", LICENSE_PUBLIC_KEY: vendor.publicPem });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/PORT: PORT must be 0-65535\n\s+USAGE_BATCH_SIZE: USAGE_BATCH_SIZE must be 1-1000/);
  });
});
