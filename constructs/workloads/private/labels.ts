/** Label conventions of our Kubernetes objects; selectors, NetworkPolicies and alert rules all key on these. */

export const PART_OF = "voice-selfhost";
export const NAME_LABEL = "app.kubernetes.io/name";
export const COMPONENT_LABEL = "app.kubernetes.io/component";

/** Components: every inference service (combined, stt, tts) is `inference`, so one policy and one alert cover them all. */
export type Component = "inference" | "license-proxy" | "gpu-device-plugin" | "gpu-metrics" | "monitoring" | "cluster-autoscaler" | "scheduled-scaling";

/** What a workload selects its own pods by (stable for the life of the object: selectors are immutable). */
export function selectorLabels(name: string, component: Component): Record<string, string> {
  return { [NAME_LABEL]: name, [COMPONENT_LABEL]: component };
}

/** The recommended Kubernetes labels of one object of a component. */
export function objectLabels(name: string, component: Component): Record<string, string> {
  return { ...selectorLabels(name, component), "app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "cdktf" };
}
