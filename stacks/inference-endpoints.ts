import { EnvironmentConfig } from "../app";
import { drainTiming, DrainTiming } from "../constructs/shared";
import { GPU_POOL_CPU_ENGINES_TAG, GPU_POOL_USE_TAG, GpuPoolUse, INFERENCE_HEALTH_CHECK_NODE_PORTS, INFERENCE_NODE_PORTS, InferenceServiceName } from "../constructs/private/names";
import { gpuPlacement, InferenceServiceSettings, inferenceServicesOf } from "../constructs/workloads/settings";

/** One inference Service as both stacks see it: the NodePort the workloads expose and the listener the load balancer opens for it. */
export interface InferenceEndpoint {
  readonly name: InferenceServiceName;
  /** Listener port on the internal load balancer. */
  readonly port: number;
  readonly nodePort: number;
  /** kube-proxy's health-check node port of the Service: what the target group checks. */
  readonly healthCheckNodePort: number;
  /** How its pods leave the load balancer (from the target groups' health check and the service's request timeout). */
  readonly drain: DrainTiming;
  /** The same, as the load balancer takes it. */
  readonly unhealthyDrainingSeconds: number;
}

/**
 * The inference Services of an environment with their ports and drain timing: the one list the infra
 * stack's load balancer and the workloads stack's Services are built from, so a Service never lacks a
 * listener and the pods' drain matches the target group's health check.
 */
export function inferenceEndpoints(env: EnvironmentConfig): InferenceEndpoint[] {
  return inferenceServicesOf(env.workloads).map(({ key, settings }) => {
    const drain = drainTiming(settings.requestTimeoutSeconds);
    return {
      name: key,
      port: key === "tts" ? env.ingress.ttsPort : env.ingress.port,
      nodePort: INFERENCE_NODE_PORTS[key],
      healthCheckNodePort: INFERENCE_HEALTH_CHECK_NODE_PORTS[key],
      drain,
      unhealthyDrainingSeconds: drain.unhealthyDrainingSeconds,
    };
  });
}

/** Where one inference Service runs, as both stacks see it: the infra stack tags GPU pools and picks load balancer targets by it, the workloads stack schedules the pods. */
export interface InferencePlacement {
  readonly name: InferenceServiceName;
  /** The service's settings; on GPU nodes with `pool` resolved (its own, else the environment's first GPU pool). */
  readonly settings: InferenceServiceSettings;
  /** Whether it runs on GPU nodes (gpuPlacement: some engine of it uses a GPU, or cpuEnginesOnGpu) rather than the system pool. */
  readonly gpu: boolean;
  /** The GPU pool it runs on; undefined on the system pool. */
  readonly pool: string | undefined;
  /** On GPU nodes, but every engine runs on the CPU (stated, or `auto` without a CUDA runtime): the GPU is billed and idle. */
  readonly enginesOnCpu: boolean;
}

/** The inference Services of an environment with where they run: the one placement both stacks use. */
export function inferencePlacements(env: EnvironmentConfig): InferencePlacement[] {
  return inferenceServicesOf(env.workloads).map(({ key, settings }) => {
    const { gpu, enginesOnCpu } = gpuPlacement(env.workloads.models, key, settings, env.workloads.image.cudaRuntime);
    const pool = gpu ? settings.pool ?? env.nodePools.gpu[0].name : undefined;
    return { name: key, settings: gpu ? { ...settings, pool } : settings, gpu, pool, enginesOnCpu };
  });
}

/**
 * The tags that say which inference services use a GPU pool ("none" when none does) and, when every one of
 * them runs its engines on the CPU, that the pool is billed for GPUs nothing uses: where the cost review reads it.
 */
export function gpuPoolUseTags(placements: InferencePlacement[], pool: string): Record<string, string> {
  const users = placements.filter((s) => s.gpu && s.pool === pool);
  const onCpu = users.filter((s) => s.enginesOnCpu).map((s) => s.name);
  const cpuEngines: Record<string, string> = users.length > 0 && onCpu.length === users.length ? { [GPU_POOL_CPU_ENGINES_TAG]: onCpu.join(",") } : {};
  return { [GPU_POOL_USE_TAG]: users.map((s) => s.name).join(",") || GpuPoolUse.none, ...cpuEngines };
}
