/**
 * Offline usage export: the pending records, signed with this installation's own Ed25519 key (made on
 * first start, kept in STATE_DIR) as a compact JWS whose header carries the public key and its
 * thumbprint. The vendor checks the signature, and that the thumbprint is the installation it knows;
 * it deduplicates by record id, so exporting a record twice (a crash after writing the file but
 * before marking) is harmless.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CompactSign, compactVerify, EmbeddedJWK, type JWK } from "jose";
import type { UsageRecord } from "../shared/license-protocol";
import { writeFileAtomic } from "./files";
import { jwkThumbprint } from "./lease";
import type { Spool } from "./spool";

const USAGE_EXPORT_TYPE = "voice-selfhost-usage-export+jws";

export interface InstallationKey {
  privateKey: KeyObject;
  publicJwk: JWK;
  /** RFC 7638 thumbprint of the public key: the installation id the vendor sees. */
  id: string;
}

export async function loadOrCreateInstallationKey(stateDir: string): Promise<InstallationKey> {
  const path = join(stateDir, "installation-key.jwk");
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: JSON.parse(await readFile(path, "utf8")), format: "jwk" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`installation key ${path} is unreadable: ${(e as Error).message}`);
    privateKey = generateKeyPairSync("ed25519").privateKey;
    await writeFileAtomic(path, JSON.stringify(privateKey.export({ format: "jwk" })), 0o600);
  }
  const { crv, kty, x } = privateKey.export({ format: "jwk" }) as JWK;
  const publicJwk: JWK = { crv, kty, x };
  return { privateKey, publicJwk, id: jwkThumbprint(createPublicKey(privateKey)) };
}

export interface UsageExportPayload {
  type: "usage-export";
  installation_id: string;
  license_id: string | null;
  exported_at: string;
  records: UsageRecord[];
}

/** Write every pending record to `outPath` (signed), then mark them exported. Returns how many. */
export async function exportUsage(spool: Spool, key: InstallationKey, outPath: string, licenseId: string | null): Promise<number> {
  const records = spool.all();
  if (records.length === 0) return 0;
  const payload: UsageExportPayload = { type: "usage-export", installation_id: key.id, license_id: licenseId, exported_at: new Date().toISOString(), records };
  const jws = await new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ alg: "EdDSA", typ: USAGE_EXPORT_TYPE, jwk: key.publicJwk, kid: key.id })
    .sign(key.privateKey);
  await writeFileAtomic(outPath, `${jws}\n`, 0o644);
  await spool.markDone(
    records.map((r) => r.id),
    "exported",
  );
  return records.length;
}

/** Check an export's signature against the key embedded in it, and that the key is the installation it names. */
export async function verifyUsageExport(text: string): Promise<UsageExportPayload> {
  const { payload, protectedHeader } = await compactVerify(text.trim(), EmbeddedJWK, { algorithms: ["EdDSA"] });
  if (protectedHeader.typ !== USAGE_EXPORT_TYPE) throw new Error(`not a usage export (typ ${String(protectedHeader.typ)})`);
  const body = JSON.parse(Buffer.from(payload).toString("utf8")) as UsageExportPayload;
  const signer = jwkThumbprint(createPublicKey({ key: protectedHeader.jwk as never, format: "jwk" }));
  if (signer !== body.installation_id || signer !== protectedHeader.kid) throw new Error("the export is signed by a key other than the installation it names");
  return body;
}
