/** The construct library platform teams import: `import { PrivateNetwork, enforcePolicy } from "voice-selfhost"`. */
export * from "./network";
export * from "./cluster";
export * from "./registry";
export * from "./storage";
export * from "./ingress";
export * from "./shared";
export * from "./workloads";
// The policy layer's public surface: enforce the rules on your own stacks, and declare exceptions in code.
export { acknowledgePolicy, enforcePolicy } from "./policy";
export type { Acknowledgement, NetworkMode, PolicyOptions } from "./policy";
