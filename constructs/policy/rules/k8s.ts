/** What the Kubernetes rules share: an object's namespace, its pod spec and labels, and label selection. */
import { K8sObject, PodSpec, podSpecOf, TfResource, valueAt } from "../stack-view";

export function pod(resource: TfResource): PodSpec {
  return podSpecOf(resource.object) ?? {};
}

export function namespaceOf(object: K8sObject): string {
  return object.metadata.namespace ?? "default";
}

/** The labels of a workload's pod template. */
export function podLabels(object: K8sObject): Record<string, string> {
  const labels = valueAt(object, ["spec", "template", "metadata", "labels"]);
  return labels !== null && typeof labels === "object" ? (labels as Record<string, string>) : {};
}

/** True when a `{ matchLabels }` selector selects `labels` (an empty selector selects nothing here). */
export function matches(selector: unknown, labels: Record<string, string>): boolean {
  const matchLabels = valueAt(selector, ["matchLabels"]);
  if (matchLabels === null || typeof matchLabels !== "object") return false;
  const entries = Object.entries(matchLabels as Record<string, string>);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** The workloads of `kinds` in the object's namespace whose pods a Service's `spec.selector` (a plain label map) selects. */
export function selectedWorkloads(service: K8sObject, candidates: TfResource[]): TfResource[] {
  const selector = valueAt(service, ["spec", "selector"]);
  if (selector === null || typeof selector !== "object") return [];
  return candidates.filter((w) => namespaceOf(w.object!) === namespaceOf(service) && matches({ matchLabels: selector }, podLabels(w.object!)));
}
