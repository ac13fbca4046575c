/** The construct library platform teams import: `import { PrivateNetwork } from "voice-selfhost/constructs"`. */
export * from "./config";
export * from "./network";
export * from "./cluster";
export * from "./registry";
export * from "./ingress";
export * from "./shared";
export * from "./workloads";
