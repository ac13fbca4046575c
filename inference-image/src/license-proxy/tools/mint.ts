/**
 * Mint test leases and offline license files, signed like the vendor's licensing service signs them.
 * For tests, benchmarks and demos: keys are generated on the spot (`keygen`), never committed.
 *
 *   node dist/license-proxy/tools/mint.js keygen --dir DIR
 *   node dist/license-proxy/tools/mint.js lease --key DIR/vendor-private.jwk --sub LICENSE_ID
 *        [--expires-in SECONDS] [--grace SECONDS] [--features stt,tts] [--models '*'] [--out FILE]
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { FEATURES } from "../../shared/license-protocol";
import { jwkThumbprint, LEASE_AUDIENCE, LEASE_ISSUER } from "../lease";

export interface SigningKey {
  privateKey: KeyObject;
  publicPem: string;
  publicJwk: { kty: string; crv: string; x: string };
  kid: string;
}

function signingKeyFrom(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
    publicJwk: publicKey.export({ format: "jwk" }) as SigningKey["publicJwk"],
    kid: jwkThumbprint(publicKey),
  };
}

export function generateSigningKey(): SigningKey {
  return signingKeyFrom(generateKeyPairSync("ed25519").privateKey);
}

export interface LeaseSpec {
  sub: string;
  /** Unix seconds. */
  exp: number;
  iat?: number;
  grace_s?: number;
  features?: string[];
  models?: string[];
  /** Leave the kid header out (a lease from a signer that does not name its key). */
  omitKid?: boolean;
}

export async function mintLease(key: SigningKey, spec: LeaseSpec): Promise<string> {
  const header = spec.omitKid ? { alg: "EdDSA", typ: "JWT" } : { alg: "EdDSA", typ: "JWT", kid: key.kid };
  return new SignJWT({ grace_s: spec.grace_s ?? 86400, ent: { features: spec.features ?? [...FEATURES], models: spec.models ?? ["*"] } })
    .setProtectedHeader(header)
    .setIssuer(LEASE_ISSUER)
    .setAudience(LEASE_AUDIENCE)
    .setSubject(spec.sub)
    .setIssuedAt(spec.iat ?? Math.floor(Date.now() / 1000))
    .setExpirationTime(spec.exp)
    .sign(key.privateKey);
}

async function cli(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  if (command === "keygen") {
    const { values } = parseArgs({ args, options: { dir: { type: "string" } } });
    if (!values.dir) throw new Error("keygen needs --dir DIR");
    const key = generateSigningKey();
    await writeFile(join(values.dir, "vendor-private.jwk"), JSON.stringify(key.privateKey.export({ format: "jwk" })), { mode: 0o600 });
    await writeFile(join(values.dir, "vendor-public.pem"), key.publicPem);
    process.stdout.write(`wrote ${values.dir}/vendor-private.jwk and vendor-public.pem (kid ${key.kid})\n`);
    return;
  }
  if (command === "lease") {
    const { values } = parseArgs({
      args,
      options: {
        key: { type: "string" },
        sub: { type: "string" },
        "expires-in": { type: "string", default: "3600" },
        grace: { type: "string", default: "86400" },
        features: { type: "string", default: FEATURES.join(",") },
        models: { type: "string", default: "*" },
        out: { type: "string" },
      },
    });
    if (!values.key || !values.sub) throw new Error("lease needs --key FILE and --sub LICENSE_ID");
    const key = signingKeyFrom(createPrivateKey({ key: JSON.parse(await readFile(values.key, "utf8")), format: "jwk" }));
    const token = await mintLease(key, {
      sub: values.sub,
      exp: Math.floor(Date.now() / 1000) + Number(values["expires-in"]),
      grace_s: Number(values.grace),
      features: values.features.split(","),
      models: values.models.split(","),
    });
    if (values.out) await writeFile(values.out, `${token}\n`);
    else process.stdout.write(`${token}\n`);
    return;
  }
  throw new Error("usage: mint keygen --dir DIR | mint lease --key FILE --sub ID [--expires-in S] [--grace S] [--features a,b] [--models a,b] [--out FILE]");
}

if (require.main === module) {
  cli(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`mint: ${e.message}\n`);
    process.exitCode = 2;
  });
}
