/** Rules about paid capacity: GPU node pools that no workload's engines use. */
import { GpuPoolUse, GPU_POOL_USE_TAG } from "../../private/names";
import { TfResource } from "../stack-view";
import { PolicyRule } from "../types";

/** What a node group's GPU-use tag says: the services whose engines use it, "none", or undefined when untagged. */
export function gpuPoolUse(group: TfResource): string | undefined {
  const tags = group.values.tags as Record<string, unknown> | undefined;
  const use = tags?.[GPU_POOL_USE_TAG];
  return typeof use === "string" ? use : undefined;
}

/** What reports and findings call a node group: the id of the construct that holds it (its NodePool, `pool-<name>`), else its Terraform name. */
export function poolName(group: TfResource): string {
  return group.path.split("/").slice(-2, -1)[0] ?? group.name;
}

export const gpuPoolRules: PolicyRule[] = [
  {
    id: "VS-EKS-005",
    title: "No GPU pool sits idle: some workload's engines use each one",
    rationale:
      "A GPU node costs several times a CPU node; a pool that no workload's engines use (built-in CPU engines, or models set to cpu) is capacity paid for and left idle, which a cost review must see.",
    fix: "Set a sherpa model's provider to cuda or auto (workloads.models.<stt|tts>.provider), remove the pool, or acknowledge it with the reason it is kept (e.g. it scales from zero).",
    appliesTo: ["aws_eks_node_group"],
    check: (group: TfResource) =>
      gpuPoolUse(group) === GpuPoolUse.none ? [`GPU pool ${poolName(group)}: no inference service's engines use a GPU, so its nodes would sit idle`] : [],
  },
];
