import { EnvironmentConfig } from "../app";
import { INFERENCE_NODE_PORTS, InferenceServiceName } from "../constructs/shared";
import { inferenceServicesOf } from "../constructs/workloads/settings";

/** One inference Service as both stacks see it: the NodePort the workloads expose and the listener the load balancer opens for it. */
export interface InferenceEndpoint {
  readonly name: InferenceServiceName;
  /** Listener port on the internal load balancer. */
  readonly port: number;
  readonly nodePort: number;
}

/**
 * The inference Services of an environment with their ports: the one list the infra stack's load
 * balancer and the workloads stack's Services are built from, so a Service never lacks a listener.
 */
export function inferenceEndpoints(env: EnvironmentConfig): InferenceEndpoint[] {
  return inferenceServicesOf(env.workloads).map(({ key }) => ({
    name: key,
    port: key === "tts" ? env.ingress.ttsPort : env.ingress.port,
    nodePort: INFERENCE_NODE_PORTS[key],
  }));
}
