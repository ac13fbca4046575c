/** A monthly cost estimate from a synthesized stack and the dated price table in scripts/pricing. */
import prices from "../pricing/aws-on-demand.json";
import { gpuPoolUse, poolName } from "../../constructs/policy/rules/gpu-pools";
import { blocks, launchTemplateOf, StackView, TfResource, valueAt } from "../../constructs/policy/stack-view";
import { GPU_POOL_CPU_ENGINES_TAG, GpuPoolUse } from "../../constructs/private/names";

interface RegionPrices {
  readonly instances: Readonly<Record<string, number>>;
  readonly natGateway: number;
  readonly interfaceEndpointPerAz: number;
  readonly networkLoadBalancer: number;
  readonly eksCluster: number;
  readonly gp3PerGiBMonth: number;
  readonly kmsKeyMonth: number;
}

export interface PriceTable {
  readonly source: string;
  readonly asOf: string;
  readonly note: string;
  readonly hoursPerMonth: number;
  readonly regions: Readonly<Record<string, RegionPrices>>;
}

export const PRICE_TABLE: PriceTable = prices;

export interface CostLine {
  readonly item: string;
  /** Construct path the line is about. */
  readonly path: string;
  readonly quantityMin: number;
  readonly quantityMax: number;
  /** USD per unit per month; undefined when the table has no price for it. */
  readonly unitMonthly: number | undefined;
  readonly monthlyMin: number;
  readonly monthlyMax: number;
  readonly note?: string;
  /** A GPU pool (and its volumes) that no workload's engines use (VS-EKS-005), or whose workloads run CPU engines on it (VS-K8S-016). */
  readonly unused?: boolean;
}

export interface CostEstimate {
  readonly label: string;
  readonly region: string | undefined;
  readonly priceSource: string;
  readonly priceDate: string;
  readonly lines: CostLine[];
  readonly totalMin: number;
  readonly totalMax: number;
  /** Of the totals, what GPU pools that no workload's engines use, or that only CPU engines hold, cost (0 when none). */
  readonly unusedMin: number;
  readonly unusedMax: number;
  /** Items the table has no price for (left out of the totals). */
  readonly unpriced: string[];
  readonly excludes: string;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Root and data volume sizes of the launch template a node group uses. */
function nodeDiskGiB(group: TfResource, stack: StackView): number {
  const template = launchTemplateOf(group, stack);
  if (!template) return Number(group.values.disk_size ?? 20);
  return blocks(template.values.block_device_mappings).reduce((sum, m) => sum + Number(valueAt(m, ["ebs", "volume_size"]) ?? 0), 0);
}

export function estimateCost(stack: StackView, table: PriceTable = PRICE_TABLE): CostEstimate {
  const region = stack.region;
  const p = region ? table.regions[region] : undefined;
  const h = table.hoursPerMonth;
  const lines: CostLine[] = [];
  const unpriced: string[] = [];
  const add = (item: string, path: string, min: number, max: number, unitMonthly: number | undefined, note?: string, unused?: boolean) => {
    if (unitMonthly === undefined) unpriced.push(`${item} (${region ?? "unknown region"})`);
    const unit = unitMonthly ?? 0;
    lines.push({ item, path, quantityMin: min, quantityMax: max, unitMonthly, monthlyMin: round(min * unit), monthlyMax: round(max * unit), note, ...(unused ? { unused } : {}) });
  };

  for (const group of stack.ofType("aws_eks_node_group")) {
    const types = (group.values.instance_types as string[] | undefined) ?? [];
    const min = Number(valueAt(group.values, ["scaling_config", "min_size"]) ?? 0);
    const max = Number(valueAt(group.values, ["scaling_config", "max_size"]) ?? min);
    const hourly = p?.instances[types[0]];
    const idle = gpuPoolUse(group) === GpuPoolUse.none;
    const cpuEngines = (group.values.tags as Record<string, unknown> | undefined)?.[GPU_POOL_CPU_ENGINES_TAG];
    const unused = idle || typeof cpuEngines === "string";
    const notes = [
      group.values.capacity_type === "SPOT" ? "Spot pool priced at on-demand (an upper bound)" : undefined,
      types.length > 1 ? `priced as ${types[0]}, the first of ${types.join(", ")}` : undefined,
      idle ? "UNUSED: no workload's engines use a GPU (VS-EKS-005)" : undefined,
      typeof cpuEngines === "string" ? `CPU ENGINES: ${cpuEngines} hold these GPUs but run on the CPU (VS-K8S-016)` : undefined,
    ].filter(Boolean);
    add(`node pool ${poolName(group)}: ${types[0] ?? "?"}`, group.path, min, max, hourly === undefined ? undefined : hourly * h, notes.join("; ") || undefined, unused);
    const disk = nodeDiskGiB(group, stack);
    add(`node volumes ${disk} GiB gp3 per node`, group.path, min, max, p ? disk * p.gp3PerGiBMonth : undefined, undefined, unused);
  }
  for (const cluster of stack.ofType("aws_eks_cluster")) add("EKS control plane", cluster.path, 1, 1, p && p.eksCluster * h);
  for (const nat of stack.ofType("aws_nat_gateway")) add("NAT gateway", nat.path, 1, 1, p && p.natGateway * h, "plus data processed");
  for (const endpoint of stack.ofType("aws_vpc_endpoint").filter((e) => e.values.vpc_endpoint_type === "Interface")) {
    const azs = Array.isArray(endpoint.values.subnet_ids) ? endpoint.values.subnet_ids.length : 1;
    const service = String(endpoint.values.service_name ?? "").split(".").slice(3).join(".");
    add(`interface endpoint ${service} (per AZ)`, endpoint.path, azs, azs, p && p.interfaceEndpointPerAz * h, "plus data processed");
  }
  for (const lb of stack.ofType("aws_lb", "aws_alb").filter((l) => (l.values.load_balancer_type ?? "application") === "network")) {
    add("network load balancer", lb.path, 1, 1, p && p.networkLoadBalancer * h, "plus NLCUs");
  }
  const keys = stack.ofType("aws_kms_key");
  if (keys.length) add("KMS keys", `${stack.name}`, keys.length, keys.length, p?.kmsKeyMonth);

  return {
    label: "ESTIMATE: on-demand list prices, excluding usage-based charges; not a quote",
    region,
    priceSource: table.source,
    priceDate: table.asOf,
    lines,
    totalMin: round(lines.reduce((s, l) => s + l.monthlyMin, 0)),
    totalMax: round(lines.reduce((s, l) => s + l.monthlyMax, 0)),
    unusedMin: round(lines.filter((l) => l.unused).reduce((s, l) => s + l.monthlyMin, 0)),
    unusedMax: round(lines.filter((l) => l.unused).reduce((s, l) => s + l.monthlyMax, 0)),
    unpriced,
    excludes: table.note,
  };
}
