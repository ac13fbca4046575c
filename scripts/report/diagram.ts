/** A Mermaid flowchart of one environment's topology, drawn from its synthesized stacks (GitHub renders it in a PR). */
import { LICENSE_PROXY_SERVICE_ACCOUNT } from "../../constructs/private/names";
import { blocks, podSpecOf, StackView, valueAt } from "../../constructs/policy/stack-view";

/** Mermaid node ids: letters, digits and underscores only. */
const id = (text: string) => text.replace(/[^A-Za-z0-9_]/g, "_");
/** Mermaid labels in double quotes; `#quot;` is Mermaid's escape for a quote. */
const label = (text: string) => `"${text.replace(/"/g, "#quot;")}"`;

/** `stacks`: every stack of one environment, so the picture joins the AWS side and the Kubernetes side. */
export function topologyDiagram(mode: string, stacks: StackView[]): string {
  const all = stacks.flatMap((s) => s.resources);
  const of = (...types: string[]) => all.filter((r) => types.includes(r.type));
  const kinds = (...k: string[]) => all.filter((r) => r.object && k.includes(r.object.kind));
  const lines = ["flowchart LR"];
  const edges: string[] = [];

  const vpc = of("aws_vpc")[0];
  lines.push(`  subgraph vpc[${label(`VPC ${String(vpc?.values.cidr_block ?? "")} · ${mode}`)}]`, "    direction TB");
  const azs = [...new Set(of("aws_subnet").map((s) => String(s.values.availability_zone)))].sort();
  for (const az of azs) {
    lines.push(`    subgraph az_${id(az)}[${label(az)}]`);
    for (const subnet of of("aws_subnet").filter((s) => s.values.availability_zone === az)) {
      const tier = String(valueAt(subnet.values, ["tags", "voice-selfhost:tier"]) ?? "subnet");
      lines.push(`      ${id(subnet.name)}[${label(`${tier} ${String(subnet.values.cidr_block)}`)}]`);
    }
    lines.push("    end");
  }
  const interfaces = of("aws_vpc_endpoint").filter((e) => e.values.vpc_endpoint_type === "Interface");
  if (interfaces.length) {
    const services = interfaces.map((e) => String(e.values.service_name).split(".").slice(3).join(".")).join(", ");
    lines.push(`    endpoints[${label(`interface endpoints: ${services}`)}]`);
  }
  if (of("aws_vpc_endpoint").some((e) => e.values.vpc_endpoint_type === "Gateway")) lines.push(`    s3gw[${label("S3 gateway endpoint")}]`);
  for (const nat of of("aws_nat_gateway")) lines.push(`    ${id(nat.name)}[${label("NAT gateway")}]`);

  const cluster = of("aws_eks_cluster")[0];
  if (cluster) {
    const isPublic = valueAt(cluster.values, ["vpc_config", "endpoint_public_access"]) === true;
    lines.push(`    eks[${label(`EKS ${String(cluster.values.version ?? "")} · API ${isPublic ? "PUBLIC and private" : "private only"}`)}]`);
    for (const group of of("aws_eks_node_group")) {
      const pool = String(valueAt(group.values, ["labels", "voice-selfhost.io/pool"]) ?? group.name);
      const size = `${String(valueAt(group.values, ["scaling_config", "min_size"]))}-${String(valueAt(group.values, ["scaling_config", "max_size"]))}`;
      const types = ((group.values.instance_types as string[] | undefined) ?? []).join("/");
      lines.push(`    ${id(group.name)}[${label(`pool ${pool}: ${types} × ${size} ${String(group.values.capacity_type ?? "")}`)}]`);
      edges.push(`  eks --- ${id(group.name)}`);
    }
    if (interfaces.length) edges.push("  eks -. AWS APIs .-> endpoints");
  }
  const nlb = of("aws_lb")[0];
  if (nlb) {
    const listeners = of("aws_lb_listener").map((l) => `${String(l.values.protocol)} :${String(l.values.port)}`).join(", ");
    lines.push(`    nlb[${label(`${nlb.values.internal === true ? "internal" : "INTERNET-FACING"} ${String(nlb.values.load_balancer_type ?? "")} LB ${listeners}`)}]`);
  }
  if (of("aws_ecr_repository").length) lines.push(`    ecr[(${label(`ECR: ${of("aws_ecr_repository").length} repositories`)})]`);
  for (const bucket of of("aws_s3_bucket")) lines.push(`    ${id(bucket.name)}[(${label(`S3 ${String(bucket.values.bucket_prefix ?? bucket.values.bucket ?? bucket.name)}`)})]`);
  lines.push("  end");
  if (of("aws_internet_gateway").length) {
    lines.push(`  igw[${label("internet gateway")}]`);
    of("aws_nat_gateway").forEach((nat) => edges.push(`  ${id(nat.name)} --> igw`));
  }

  const workloads = kinds("Deployment", "StatefulSet", "DaemonSet");
  if (workloads.length) {
    lines.push(`  subgraph k8s[${label("Kubernetes workloads")}]`);
    for (const w of workloads) {
      const o = w.object!;
      lines.push(`    ${id(w.name)}[${label(`${o.kind} ${o.metadata.namespace ?? "default"}/${o.metadata.name ?? ""}`)}]`);
    }
    lines.push("  end");
    if (cluster) edges.push("  eks --> k8s");
  }
  const clientCidrs = of("aws_vpc_security_group_ingress_rule")
    .filter((r) => r.path.includes("/ingress/"))
    .map((r) => r.values.cidr_ipv4 ?? r.values.cidr_ipv6)
    .filter((c): c is string => typeof c === "string");
  const inference = workloads.find((w) => w.object!.kind === "Deployment" && /inference/.test(w.object!.metadata.name ?? ""));
  if (nlb) {
    edges.push(`  clients([${label(`clients ${[...new Set(clientCidrs)].join(", ")}`)}]) --> nlb`);
    if (inference) edges.push(`  nlb --> ${id(inference.name)}`);
  }
  const proxy = workloads.find((w) => podSpecOf(w.object)?.serviceAccountName === LICENSE_PROXY_SERVICE_ACCOUNT);
  if (proxy) {
    if (inference) edges.push(`  ${id(inference.name)} -- authorize + usage metadata --> ${id(proxy.name)}`);
    const egress = kinds("NetworkPolicy")
      .filter((np) => /license/.test(np.object!.metadata.name ?? ""))
      .flatMap((np) => blocks(valueAt(np.object, ["spec", "egress"])).flatMap((rule) => blocks(rule.to).map((to) => valueAt(to, ["ipBlock", "cidr"]))))
      .filter((c): c is string => typeof c === "string");
    if (egress.length) edges.push(`  ${id(proxy.name)} -- HTTPS leases + usage --> license([${label(`vendor license server ${[...new Set(egress)].join(", ")}`)}])`);
    else edges.push(`  ${id(proxy.name)} -. offline .-> license([${label("offline license file (no egress)")}])`);
  }
  return [...lines, ...edges].join("\n");
}

/** A diagram as a fenced Mermaid block, which GitHub and GitLab render in place. */
export function mermaidBlock(diagram: string): string {
  return ["```mermaid", diagram, "```"].join("\n");
}
