/**
 * What the Kubernetes objects must agree on with the image in inference-image/: ports, environment
 * variable names, paths, commands and metric names. The image is its own workspace and is not
 * compiled with the constructs, so these are mirrored here in one place, and
 * test/workloads/contract.test.ts reads the image's sources to prove every one still matches.
 */
import { TARGET_TLS_ENV } from "../shared/load-balancer-forwarding";

/**
 * The inference image's release (`version` in inference-image/package.json): the default tag the
 * registry and workloads use. A constant, not an import of that file, so the packed construct
 * library stands alone.
 */
export const INFERENCE_IMAGE_VERSION = "0.1.0";

/** The inference server's listening port (`PORT`, default 8080 in src/server/config.ts). */
export const INFERENCE_PORT = 8080;
/** The license proxy's listening port (`PORT`, default 3369 in src/license-proxy/config.ts). */
export const LICENSE_PROXY_PORT = 3369;

/** Health routes of the inference server (src/server/app.ts). */
export const INFERENCE_HEALTH = { live: "/health/live", ready: "/health/ready" } as const;
/** The license proxy's health route (src/license-proxy/server.ts). */
export const LICENSE_PROXY_HEALTH = "/health";
/** Both programs serve Prometheus text here, without an API key. */
export const METRICS_PATH = "/metrics";

/**
 * The two entry points of the one image (the image's WORKDIR holds `dist/`). Stated explicitly in the
 * pod specs, so neither depends on the image's default command.
 */
export const IMAGE_COMMANDS = {
  server: ["node", "dist/server/main.js"],
  licenseProxy: ["node", "dist/license-proxy/main.js"],
  scheduledScaling: ["node", "dist/scheduled-scaling/main.js"],
} as const;

/** The non-root user the image runs as (`USER` in inference-image/Dockerfile); pods pin it so the kubelet can check `runAsNonRoot`. */
export const IMAGE_UID = 1000;

/** Environment variables the inference server reads (src/server/config.ts, auth.ts, src/engines/config.ts). */
export const SERVER_ENV = {
  port: "PORT",
  apiKeysFile: "API_KEYS_FILE",
  licenseProxyUrl: "LICENSE_PROXY_URL",
  sttEngine: "STT_ENGINE",
  sttModelDir: "STT_MODEL_DIR",
  ttsEngine: "TTS_ENGINE",
  ttsModelDir: "TTS_MODEL_DIR",
  sttProvider: "STT_PROVIDER",
  ttsProvider: "TTS_PROVIDER",
  workers: "WORKERS",
  queueMax: "QUEUE_MAX",
  requestTimeoutMs: "REQUEST_TIMEOUT_MS",
  shutdownGraceMs: "SHUTDOWN_GRACE_MS",
  usageWalDir: "USAGE_WAL_DIR",
  /** The certificate chain and key the server serves TLS with (src/server/tls.ts); unset, it serves plain HTTP. */
  tlsCertFile: TARGET_TLS_ENV.certFile,
  tlsKeyFile: TARGET_TLS_ENV.keyFile,
} as const;

/** Bounds the server's config schema puts on the values we set, so a bad setting fails at synth, not in a crash loop. */
export const SERVER_LIMITS = {
  requestTimeoutMs: { min: 1000, max: 3_600_000 },
  shutdownGraceMs: { max: 600_000 },
} as const;

/** Environment variables the license proxy reads (src/license-proxy/config.ts). */
export const PROXY_ENV = {
  port: "PORT",
  serverUrl: "LICENSE_SERVER_URL",
  keyFile: "LICENSE_KEY_FILE",
  publicKeyFile: "LICENSE_PUBLIC_KEY_FILE",
  licenseFile: "LICENSE_FILE",
  stateDir: "STATE_DIR",
} as const;

/** Engines the image knows (src/engines/config.ts); the built-in ones need no model directory. */
export const STT_ENGINES = ["pocketsphinx", "sherpa-whisper", "sherpa-transducer", "sherpa-paraformer"] as const;
export const TTS_ENGINES = ["flite", "sherpa-vits", "sherpa-kokoro"] as const;
export const BUILTIN_ENGINES: readonly string[] = ["pocketsphinx", "flite"];
/** Execution providers a model may be set to (src/engines/config.ts EXECUTION_PROVIDERS); the built-in engines run on CPU only. */
export const EXECUTION_PROVIDERS = ["cpu", "cuda", "auto"] as const;

/** Metric names the alert rules, the dashboard and the HPA use, exactly as the programs export them. */
/** The server's engine lanes (the `lane` label of the load metrics): live streams and synthesis, batch transcriptions. */
export const ENGINE_LANES = ["live", "batch"] as const;
export const METRICS = {
  inflight: "inference_inflight_requests",
  /** In-flight work over what a replica holds without queueing, per engine lane (`lane` live or batch): what the HPA targets. */
  loadRatio: "inference_load_ratio",
  /** What a replica holds without queueing, per lane (the server's laneCapacity). */
  capacity: "inference_capacity",
  requestDuration: "inference_http_request_duration_seconds",
  realTimeFactor: "inference_real_time_factor",
  ttsFirstByte: "inference_tts_first_byte_seconds",
  /** Per turn, by route, team and stage (end of speech to final or EndOfTurn, onset to first interim, Flush to first audio). */
  turnLatency: "inference_turn_latency_seconds",
  queueDepth: "inference_queue_depth",
  workerUtilisation: "inference_worker_utilisation",
  rejected: "inference_rejected_requests_total",
  audioSeconds: "inference_audio_seconds_total",
  characters: "inference_characters_total",
  licenseAllowed: "inference_license_allowed",
  usagePending: "inference_usage_records_pending",
  teamRequests: "inference_team_requests_total",
  teamAudioSeconds: "inference_team_audio_seconds_total",
  teamCharacters: "inference_team_characters_total",
  teamLiveSessionSeconds: "inference_team_live_session_seconds_total",
  teamRejected: "inference_team_rejected_requests_total",
  teamInflight: "inference_team_inflight",
  apiKeysReloadFailures: "inference_api_keys_reload_failures_total",
  /** Exported by a server that serves TLS (TLS_CERT_FILE): replacements it could not use, and when its certificate expires. */
  tlsReloadFailures: "inference_tls_reload_failures_total",
  tlsCertificateExpiry: "inference_tls_certificate_expiry_timestamp_seconds",
  graceActive: "license_proxy_grace_period_active",
  licenseValid: "license_proxy_license_valid",
  validUntil: "license_proxy_valid_until_timestamp_seconds",
  spoolDepth: "license_proxy_spool_depth",
  /** 1 while the proxy can write its usage spool; 0 when the disk is full or read-only (it then refuses to authorize). */
  spoolWritable: "license_proxy_spool_writable",
  uploadFailures: "license_proxy_usage_upload_failures_total",
} as const;

/** The `reason` label of `inference_rejected_requests_total` when the work queue is full (the server's 429). */
export const QUEUE_FULL_REASON = "too_many_requests";

/** DCGM exporter metrics (the exporter's default counter set) and its port. */
export const DCGM_METRICS = { gpuUtil: "DCGM_FI_DEV_GPU_UTIL", memoryUsed: "DCGM_FI_DEV_FB_USED", memoryFree: "DCGM_FI_DEV_FB_FREE" } as const;
export const DCGM_EXPORTER_PORT = 9400;

/** Where secrets created out of band are mounted, and the Secret names and keys the README's commands create. */
export const SECRETS = {
  apiKeys: { name: "inference-api-keys", key: "keys", mountPath: "/var/run/secrets/voice-selfhost/api-keys" },
  licenseKey: { name: "license-key", key: "license-key", mountPath: "/var/run/secrets/voice-selfhost/license-key" },
  licenseFile: { name: "license-file", key: "license.jwt", mountPath: "/var/run/secrets/voice-selfhost/license-file" },
  publicKey: { name: "license-public-key", key: "public-key.pem", mountPath: "/var/run/secrets/voice-selfhost/license-public-key" },
} as const;

/** The inference pods' certificate: a Secret of type kubernetes.io/tls (`kubectl create secret tls`, or an issuer such as cert-manager). */
export const TLS_SECRET = { name: "inference-tls", certKey: "tls.crt", keyKey: "tls.key", mountPath: "/var/run/secrets/voice-selfhost/tls" } as const;

/** The license proxy's persistent state (lease and usage spool). */
export const PROXY_STATE_DIR = "/var/lib/license-proxy";
/** Where model files land in the inference pods (an emptyDir the init containers fill from the model images). */
export const MODELS_MOUNT = "/models";
const MODEL_IMAGE_DIR = "/opt/model";
/** A model image (the build model-import writes: src/model-import/image-build.ts) and how its model reaches the pod. */
export const MODEL_IMAGE = {
  /** Where a model image holds its model. */
  dir: MODEL_IMAGE_DIR,
  /** The init container's command: a copy from the image's own filesystem into the pod's emptyDir `to`, no network. */
  copy: (to: string) => ["cp", "-R", `${MODEL_IMAGE_DIR}/.`, to],
} as const;
