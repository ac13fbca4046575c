/**
 * Leases and offline license files: a JWT signed with EdDSA (Ed25519, RFC 8037), verified with the
 * vendor public key the proxy is configured with. Crypto is jose's; this module only turns its
 * errors into reasons an operator can act on (altered, wrong key, expired, malformed).
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { decodeProtectedHeader, errors, jwtVerify, type JWK } from "jose";
import { z } from "zod";

/** What a lease must say about itself: it is a lease for a license proxy, from the vendor's licensing service. */
export const LEASE_ISSUER = "voice-selfhost-licensing";
export const LEASE_AUDIENCE = "voice-selfhost-license-proxy";

const leaseClaimsSchema = z
  .object({
    iss: z.literal(LEASE_ISSUER),
    aud: z.union([z.literal(LEASE_AUDIENCE), z.array(z.string()).refine((a) => a.includes(LEASE_AUDIENCE))]),
    /** License id. */
    sub: z.string().min(1).max(256),
    iat: z.number().int(),
    exp: z.number().int(),
    /** The longest grace after exp the vendor allows for this license. */
    grace_s: z.number().int().min(0),
    /** Entitlements: features (stt, stt-live, tts) and models; "*" means any, "prefix*" a family. */
    ent: z.object({ features: z.array(z.string().min(1)), models: z.array(z.string().min(1)) }),
  })
  .passthrough();
export type LeaseClaims = z.infer<typeof leaseClaimsSchema>;

export interface Lease {
  token: string;
  claims: LeaseClaims;
}

export interface VendorKey {
  key: KeyObject;
  /** RFC 7638 thumbprint: leases name it as `kid`, so "signed by another key" is told apart from "altered". */
  kid: string;
}

export type LeaseFailure = "MALFORMED" | "WRONG_ALGORITHM" | "WRONG_KEY" | "TAMPERED" | "EXPIRED" | "BAD_CLAIMS";

export class LeaseError extends Error {
  constructor(
    readonly reason: LeaseFailure,
    message: string,
  ) {
    super(message);
  }
}

/** Parse a vendor public key given as PEM (SPKI) or JWK text; refuses private keys and non-Ed25519 keys. */
export function loadVendorKey(text: string): VendorKey {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith("{")) {
      const jwk = JSON.parse(trimmed) as JWK;
      if (jwk.d !== undefined) throw new Error("this is a private key: configure the vendor's public key only");
      key = createPublicKey({ key: jwk as never, format: "jwk" });
    } else if (trimmed.startsWith("-----BEGIN PUBLIC KEY-----")) {
      key = createPublicKey(trimmed);
    } else if (trimmed.includes("PRIVATE KEY")) {
      throw new Error("this is a private key: configure the vendor's public key only");
    } else {
      throw new Error("expected a PEM public key (-----BEGIN PUBLIC KEY-----) or a JWK object");
    }
  } catch (e) {
    throw new Error(`not a usable public key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new Error(`the vendor key must be Ed25519, got ${key.asymmetricKeyType ?? "unknown"}`);
  }
  return { key, kid: jwkThumbprint(key) };
}

export function jwkThumbprint(key: KeyObject): string {
  // RFC 7638 for OKP keys: SHA-256 over {"crv","kty","x"} in lexicographic order, base64url.
  const jwk = key.export({ format: "jwk" }) as { crv: string; kty: string; x: string };
  return createHash("sha256").update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest("base64url");
}

const time = (s: number) => new Date(s * 1000).toISOString();

/**
 * Verify a lease or license file. `toleranceSeconds` lets a lease past its exp through (the grace
 * window); the caller decides what serving means for it. Throws LeaseError with a reason.
 */
export async function verifyLease(token: string, vendor: VendorKey, opts: { now: Date; toleranceSeconds: number }): Promise<Lease> {
  const compact = token.trim();
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(compact);
    if (header.alg !== "EdDSA") throw new LeaseError("WRONG_ALGORITHM", `signed with ${String(header.alg)}; leases must be EdDSA (Ed25519)`);
    kid = header.kid;
  } catch (e) {
    if (e instanceof LeaseError) throw e;
    throw new LeaseError("MALFORMED", "not a compact JWS (three base64url parts separated by dots)");
  }
  if (kid !== undefined && kid !== vendor.kid) {
    throw new LeaseError("WRONG_KEY", `signed by a different key (kid ${kid}); this proxy trusts the vendor key ${vendor.kid}`);
  }
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(compact, vendor.key, {
      algorithms: ["EdDSA"],
      issuer: LEASE_ISSUER,
      audience: LEASE_AUDIENCE,
      requiredClaims: ["sub", "iat", "exp", "grace_s", "ent"],
      currentDate: opts.now,
      clockTolerance: opts.toleranceSeconds,
    }));
  } catch (e) {
    if (e instanceof errors.JWSSignatureVerificationFailed) {
      throw kid === undefined
        ? new LeaseError("WRONG_KEY", "the signature does not verify: altered, or signed by a key this proxy does not trust")
        : new LeaseError("TAMPERED", "the signature does not match the content: the lease was altered after signing");
    }
    if (e instanceof errors.JWTExpired) {
      const exp = (e.payload as { exp?: number }).exp;
      throw new LeaseError("EXPIRED", `expired at ${exp !== undefined ? time(exp) : "an unknown time"}${opts.toleranceSeconds > 0 ? ` and its grace of ${opts.toleranceSeconds}s has ended` : ""}`);
    }
    if (e instanceof errors.JWTClaimValidationFailed) throw new LeaseError("BAD_CLAIMS", `claim "${e.claim}" is not acceptable: ${e.message}`);
    if (e instanceof errors.JOSEAlgNotAllowed) throw new LeaseError("WRONG_ALGORITHM", "leases must be EdDSA (Ed25519)");
    if (e instanceof errors.JOSEError) throw new LeaseError("MALFORMED", `not a valid JWT (${e.code})`);
    throw e;
  }
  const claims = leaseClaimsSchema.safeParse(payload);
  if (!claims.success) {
    const first = claims.error.issues[0];
    throw new LeaseError("BAD_CLAIMS", `claim "${first.path.join(".")}" is not acceptable: ${first.message}`);
  }
  return { token: compact, claims: claims.data };
}

/** "*" matches anything, "whisper-*" a family, anything else exactly. */
export function entitled(patterns: readonly string[], value: string): boolean {
  return patterns.some((p) => p === "*" || p === value || (p.endsWith("*") && value.startsWith(p.slice(0, -1))));
}
