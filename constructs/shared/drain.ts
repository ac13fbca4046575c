/**
 * How an inference pod leaves the internal load balancer without dropping a request: every number
 * derives from the target groups' health check, so the infra stack (the NLB) and the workloads stack
 * (the pods) cannot drift apart, and policy rule VS-K8S-013 re-checks the sums on what was synthesized.
 *
 * Instance targets reach a Service's NodePort with `externalTrafficPolicy: Local`. The NLB checks
 * kube-proxy's health-check node port of that Service, which answers 200 only while the node has a
 * ready, non-terminating endpoint of it. When a pod starts terminating, that check fails at once, while
 * kube-proxy keeps routing new connections to the terminating pod as long as it is still serving
 * (KEP-1669, stable since Kubernetes 1.28). So:
 * 1. preStop sleeps longer than the NLB needs to mark the node unhealthy (interval x unhealthy
 *    threshold, plus a margin for kube-proxy's update and a check in flight): the pod serves every
 *    connection the NLB still sends;
 * 2. then SIGTERM: the server stops accepting and finishes in-flight work within its shutdown grace
 *    (the request timeout plus a margin);
 * 3. the termination grace period covers both, so the kubelet never kills a request in progress;
 * 4. a new pod counts as available only after the NLB can have marked its node healthy
 *    (minReadySeconds), so a rollout never removes the last target the NLB sends to;
 * 5. the NLB does not reset connections to a target it marked unhealthy (live sessions drain with the
 *    pod) until the termination grace has passed.
 */

/** The target groups' health check (NLB: interval 5-300 s, thresholds 2-10). */
export interface TargetHealthCheck {
  readonly intervalSeconds: number;
  readonly timeoutSeconds: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
}

export const TARGET_HEALTH_CHECK: TargetHealthCheck = Object.freeze({ intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2 });

/**
 * Service annotation naming the health check of the load balancer in front of it (JSON TargetHealthCheck):
 * the workloads stack cannot see the infra stack's target groups, so the drain rule reads it here.
 */
export const TARGET_HEALTH_CHECK_ANNOTATION = "voice-selfhost.io/target-health-check";

/** Where kube-proxy answers on a Service's health-check node port. */
export const KUBE_PROXY_HEALTH_PATH = "/healthz";

/** Beyond the NLB's own detection time: kube-proxy seeing the endpoint terminate, and a check already in flight. */
export const DRAIN_MARGIN_SECONDS = 10;

/** The server's shutdown grace beyond its request timeout (SHUTDOWN_GRACE_MS), and the kubelet's beyond everything. */
export const SHUTDOWN_MARGIN_SECONDS = 5;

/** The pods' and the load balancer's side of a drain, for one Service. */
export interface DrainTiming {
  /** The pod keeps serving this long after it starts terminating. */
  readonly preStopSeconds: number;
  /** How long the server waits for in-flight work after SIGTERM (SHUTDOWN_GRACE_MS). */
  readonly shutdownGraceSeconds: number;
  readonly terminationGracePeriodSeconds: number;
  /** A new pod is available to a rollout only after this. */
  readonly minReadySeconds: number;
  /** How long the NLB keeps connections to an unhealthy target open before it resets them. */
  readonly unhealthyDrainingSeconds: number;
}

/** Seconds the NLB needs to stop sending new connections to a node whose pods all terminate. */
export function unhealthyAfterSeconds(check: TargetHealthCheck): number {
  return check.intervalSeconds * check.unhealthyThreshold;
}

/** The drain of a Service's pods whose longest request takes `requestTimeoutSeconds`, behind target groups checking as `check`. */
export function drainTiming(requestTimeoutSeconds: number, check: TargetHealthCheck = TARGET_HEALTH_CHECK): DrainTiming {
  const preStopSeconds = unhealthyAfterSeconds(check) + DRAIN_MARGIN_SECONDS;
  const shutdownGraceSeconds = requestTimeoutSeconds + SHUTDOWN_MARGIN_SECONDS;
  const terminationGracePeriodSeconds = preStopSeconds + shutdownGraceSeconds + SHUTDOWN_MARGIN_SECONDS;
  return {
    preStopSeconds,
    shutdownGraceSeconds,
    terminationGracePeriodSeconds,
    minReadySeconds: check.intervalSeconds * check.healthyThreshold + DRAIN_MARGIN_SECONDS,
    unhealthyDrainingSeconds: terminationGracePeriodSeconds,
  };
}
