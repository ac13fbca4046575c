/**
 * TLS to the pod: with TLS_CERT_FILE and TLS_KEY_FILE set, the server speaks HTTPS (and WebSockets over
 * TLS) on PORT with that certificate and key, typically the `tls.crt` and `tls.key` of a mounted Secret of
 * type kubernetes.io/tls, created by the operator or an in-cluster issuer. A renewed Secret is picked up
 * without a restart (mounted-files.ts): new connections get the new certificate, open ones keep theirs.
 * A replacement that cannot be used (not PEM, or a key that does not match the certificate) leaves the
 * last good one in use, logs an error and counts `inference_tls_reload_failures_total`.
 */
import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from "node:tls";
import { X509Certificate } from "node:crypto";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../shared/log";
import { type MountedFilesWatcher, watchMountedFiles } from "./mounted-files";

/** The certificate and key the server serves, and where they are read from. */
export interface ServerTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** What node's TLS server takes (certificate chain, key, minimum version). */
  readonly options: SecureContextOptions;
  /** When the certificate (the first of the chain) expires. */
  readonly notAfter: Date;
}

/** TLS 1.2 and 1.3 only: what the load balancer's target connections and current clients speak. */
const MIN_VERSION = "TLSv1.2";

/** TLS_CERT_FILE and TLS_KEY_FILE, read and checked at start: undefined when neither is set (plain HTTP). */
export function serverTlsFromEnv(env: NodeJS.ProcessEnv): ServerTls | undefined {
  const certFile = env.TLS_CERT_FILE || undefined;
  const keyFile = env.TLS_KEY_FILE || undefined;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new Error(`invalid server configuration: TLS_CERT_FILE and TLS_KEY_FILE go together, found only ${certFile ? "TLS_CERT_FILE" : "TLS_KEY_FILE"}`);
  return readServerTls(certFile, keyFile);
}

/** Reads a PEM certificate chain and its key; throws, naming both files, when node's TLS cannot use them together. */
export function readServerTls(certFile: string, keyFile: string): ServerTls {
  try {
    const cert = readFileSync(certFile);
    const key = readFileSync(keyFile);
    const options: SecureContextOptions = { cert, key, minVersion: MIN_VERSION };
    // Throws on a file that is not PEM, or a key that does not belong to the certificate.
    createSecureContext(options);
    return { certFile, keyFile, options, notAfter: new Date(new X509Certificate(cert).validTo) };
  } catch (err) {
    throw new Error(`TLS certificate ${certFile} with key ${keyFile}: ${(err as Error).message}`);
  }
}

/** Serves a replaced certificate without a restart; exports the reload failures and the served certificate's expiry. */
export function watchServerTls(server: TlsServer, tls: ServerTls, registry: Registry, logger: Logger, intervalMs = 1000): MountedFilesWatcher {
  let failures = 0;
  let notAfter = tls.notAfter;
  new Counter({
    name: "inference_tls_reload_failures_total",
    help: "Replacements of TLS_CERT_FILE/TLS_KEY_FILE that could not be used; the last good certificate stayed in use",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(failures);
    },
  });
  new Gauge({
    name: "inference_tls_certificate_expiry_timestamp_seconds",
    help: "When the certificate the server serves expires (Unix time)",
    registers: [registry],
    collect() {
      this.set(notAfter.getTime() / 1000);
    },
  });
  return watchMountedFiles({
    files: [tls.certFile, tls.keyFile],
    intervalMs,
    apply: () => {
      const next = readServerTls(tls.certFile, tls.keyFile);
      server.setSecureContext(next.options);
      notAfter = next.notAfter;
      logger.info("TLS certificate reloaded", { not_after: next.notAfter.toISOString() });
    },
    failed: (err) => {
      failures++;
      logger.error("TLS certificate reload failed; the last good certificate stays in use", { error: err.message });
    },
  });
}
