/**
 * The license proxies survive a lost node and a lost zone: their placement rules, played out on the
 * node groups each environment synthesizes. A small scheduler stands in for the real one, reading only
 * what the StatefulSet and the node groups declare (node affinity, the zone spread, its skew, minDomains
 * and whenUnsatisfiable, the volumes' zones, each zone's group and its maximum size); it covers those
 * rules, not the kubelet, the autoscaler's timing or EBS itself.
 */
import { NODE_LABELS } from "../../constructs/private/names";
import { stockStacks } from "../support/stock-synth";
import { find, KubeObj, kubeObjects, StackJson } from "./support";

let stacks: Record<string, StackJson>;
beforeAll(() => (stacks = stockStacks<StackJson>()));

interface ZoneGroup {
  readonly zone: string;
  readonly labels: Record<string, string>;
  readonly max: number;
}

/** The node groups of an environment with the one zone each spans (a group of several zones has zone "multi"). */
function nodeGroups(infra: StackJson): ZoneGroup[] {
  const subnets = infra.resource!.aws_subnet as Record<string, { availability_zone: string }>;
  return Object.values(infra.resource!.aws_eks_node_group).map((g) => {
    const ids = g.subnet_ids as string[];
    const zones = ids.map((ref) => subnets[/aws_subnet\.([^.]+)\./.exec(ref)![1]].availability_zone);
    return { zone: zones.length === 1 ? zones[0] : "multi", labels: g.labels as Record<string, string>, max: Number((g.scaling_config as { max_size: number }).max_size) };
  });
}

/** Whether pods of the set may run on nodes of a group: its required node affinity (In on labels). */
function admits(set: KubeObj, group: ZoneGroup): boolean {
  const terms = set.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms as { matchExpressions: { key: string; values: string[] }[] }[];
  return terms.some((t) => t.matchExpressions.every((e) => e.values.includes(group.labels[e.key])));
}

/**
 * Places `replicas` one by one as the scheduler would with the set's zone spread: a pod may go to a zone
 * where the skew stays within maxSkew (DoNotSchedule), else, only with ScheduleAnyway, anywhere. Zones are
 * those with a group that admits the pods; `lost` zones have no nodes. Returns each replica's zone or undefined.
 */
function place(set: KubeObj, groups: ZoneGroup[], replicas: number, pinned: (string | undefined)[] = [], lost: string[] = []): (string | undefined)[] {
  const spread = (set.spec.template.spec.topologySpreadConstraints as { topologyKey: string; maxSkew: number; whenUnsatisfiable: string; minDomains?: number }[]).find(
    (c) => c.topologyKey === "topology.kubernetes.io/zone",
  )!;
  const zones = [...new Set(groups.filter((g) => admits(set, g) && g.zone !== "multi" && !lost.includes(g.zone)).map((g) => g.zone))];
  const placed: (string | undefined)[] = [];
  for (let i = 0; i < replicas; i++) {
    const counts = (zone: string) => placed.filter((z) => z === zone).length;
    // A replica whose volume exists can only attach in the volume's zone.
    const candidates = pinned[i] ? zones.filter((z) => z === pinned[i]) : zones;
    // Fewer zones with nodes than minDomains: the scheduler takes the global minimum as 0.
    const globalMin = zones.length < (spread.minDomains ?? 1) ? 0 : Math.min(...zones.map(counts));
    const within = candidates.filter((z) => counts(z) + 1 - globalMin <= spread.maxSkew);
    const choice = (within.length ? within : spread.whenUnsatisfiable === "ScheduleAnyway" ? candidates : []).sort((a, b) => counts(a) - counts(b))[0];
    placed.push(choice);
  }
  return placed;
}

describe.each(["dev", "staging", "prod", "airgapped"])("%s: the license proxies", (env) => {
  const proxy = () => find(kubeObjects(stacks[`${env}-workloads`]), "StatefulSet", "license-proxy")[0];
  const groups = () => nodeGroups(stacks[`${env}-infra`]);

  test("run on the system pool, whose node groups each span one zone, at least two zones", () => {
    const system = groups().filter((g) => admits(proxy(), g));
    expect(system.length).toBeGreaterThanOrEqual(2);
    expect(system.every((g) => g.labels[NODE_LABELS.role] === "system" && g.zone !== "multi")).toBe(true);
    expect(new Set(system.map((g) => g.zone)).size).toBe(system.length);
  });

  test("their replicas land in different zones (the spread refuses, not prefers, a shared zone)", () => {
    const zones = place(proxy(), groups(), proxy().spec.replicas);
    expect(zones.every((z) => z !== undefined)).toBe(true);
    expect(new Set(zones).size).toBe(proxy().spec.replicas);
  });

  test("a lost node: its replica returns to its volume's zone, where the zone's own group can add a node", () => {
    const zones = place(proxy(), groups(), proxy().spec.replicas);
    const again = place(proxy(), groups(), proxy().spec.replicas, zones);
    expect(again).toEqual(zones);
    for (const zone of zones) expect(groups().find((g) => g.zone === zone && admits(proxy(), g))!.max).toBeGreaterThanOrEqual(1);
  });

  test("a lost zone: the replicas in the other zones keep authorizing, and the disruption budget lets one be down", () => {
    const zones = place(proxy(), groups(), proxy().spec.replicas);
    const lost = zones[0]!;
    const after = place(proxy(), groups(), proxy().spec.replicas, zones, [lost]);
    const serving = after.filter((z) => z !== undefined);
    expect(serving.length).toBe(proxy().spec.replicas - 1);
    expect(serving).not.toContain(lost);
    const pdb = find(kubeObjects(stacks[`${env}-workloads`]), "PodDisruptionBudget", "license-proxy")[0];
    expect(pdb.spec.maxUnavailable).toBe(1);
  });
});

test("main's placement (ScheduleAnyway, one group over all zones) fails the same checks: both replicas may share a zone, and no group is a zone's own", () => {
  const set = find(kubeObjects(stacks["prod-workloads"]), "StatefulSet", "license-proxy")[0];
  const before = JSON.parse(JSON.stringify(set)) as KubeObj;
  before.spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable = "ScheduleAnyway";
  // Every zone full but one: with ScheduleAnyway the scheduler may put both replicas there.
  const oneZone: ZoneGroup[] = [{ zone: "eu-west-1a", labels: { [NODE_LABELS.role]: "system" }, max: 6 }];
  expect(place(before, oneZone, 2)).toEqual(["eu-west-1a", "eu-west-1a"]);
  expect(place(set, oneZone, 2)).toEqual(["eu-west-1a", undefined]);
  const mainGroups: ZoneGroup[] = [{ zone: "multi", labels: { [NODE_LABELS.role]: "system" }, max: 6 }];
  expect(place(set, mainGroups, 2)).toEqual([undefined, undefined]);
});
