/** Network rules: what can reach in, and (in air-gapped mode) that nothing can get out. */
import { blocks, isTrue, references, StackView, TfResource } from "../stack-view";
import { PolicyRule } from "../types";

const OPEN_CIDRS = ["0.0.0.0/0", "::/0"];

function openCidrs(values: unknown[]): string[] {
  return values.flatMap((v) => (Array.isArray(v) ? v : [v])).filter((c): c is string => typeof c === "string" && OPEN_CIDRS.includes(c));
}

/** Ingress CIDRs open to the internet, wherever a security group rule can be written. */
function openIngress(resource: TfResource): string[] {
  const v = resource.values;
  switch (resource.type) {
    case "aws_security_group":
    case "aws_default_security_group":
      return blocks(v.ingress).flatMap((rule) => openCidrs([rule.cidr_blocks, rule.ipv6_cidr_blocks]).map((c) => `inline ingress ${portRange(rule)} from ${c}`));
    case "aws_security_group_rule":
      return v.type === "ingress" ? openCidrs([v.cidr_blocks, v.ipv6_cidr_blocks]).map((c) => `ingress ${portRange(v)} from ${c}`) : [];
    case "aws_vpc_security_group_ingress_rule":
      return openCidrs([v.cidr_ipv4, v.cidr_ipv6]).map((c) => `ingress ${portRange(v)} from ${c}`);
    default:
      return [];
  }
}

function portRange(rule: Record<string, unknown>): string {
  const from = rule.from_port ?? "any";
  const to = rule.to_port ?? from;
  return `${String(rule.protocol ?? rule.ip_protocol ?? "any")} ${from === to ? from : `${from}-${to}`}`;
}

/** Route tables with a route to an internet gateway, inline or as aws_route. */
function internetRouteTables(stack: StackView): TfResource[] {
  const igws = stack.ofType("aws_internet_gateway");
  const toIgw = (gatewayId: unknown) => (typeof gatewayId === "string" && gatewayId.startsWith("igw-")) || igws.some((igw) => references(gatewayId, igw));
  const routes = stack.ofType("aws_route").filter((r) => toIgw(r.values.gateway_id));
  return stack
    .ofType("aws_route_table")
    .filter((table) => blocks(table.values.route).some((r) => toIgw(r.gateway_id)) || routes.some((route) => references(route.values.route_table_id, table)));
}

export const networkRules: PolicyRule[] = [
  {
    id: "VS-NET-001",
    title: "No security-group ingress from 0.0.0.0/0 or ::/0",
    rationale: "Everything we deploy is private; an ingress rule open to every address turns one misrouted packet path into an exposure.",
    fix: "Allow only the client or VPC CIDRs that need the port (environment field allowedClientCidrs), or a source security group.",
    appliesTo: ["aws_security_group", "aws_default_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule"],
    check: (resource: TfResource) => openIngress(resource).map((what) => `${what} is open to the internet`),
  },
  {
    id: "VS-NET-002",
    title: "The VPC's default security group allows nothing",
    rationale: "AWS's default group allows all traffic between its members; anything launched without a group lands in it.",
    fix: "Adopt it with aws_default_security_group and no ingress or egress rules (PrivateNetwork does this).",
    appliesTo: ["aws_vpc"],
    check: (vpc, { stack }) => {
      const adopted = stack.referencing(vpc, "aws_default_security_group");
      if (adopted.length === 0) return ["the default security group is not adopted, so it keeps AWS's allow-all rules"];
      return adopted.filter((sg) => blocks(sg.values.ingress).length + blocks(sg.values.egress).length > 0).map((sg) => `${sg.address} declares rules`);
    },
  },
  {
    id: "VS-NET-003",
    title: "Every VPC has flow logs",
    rationale: "Flow logs are the record an incident responder needs of what talked to what.",
    fix: "Add an aws_flow_log for the VPC (PrivateNetwork writes them to a KMS-encrypted log group).",
    appliesTo: ["aws_vpc"],
    check: (vpc, { stack }) => (stack.referencing(vpc, "aws_flow_log").length > 0 ? [] : ["no aws_flow_log records this VPC's traffic"]),
  },
  {
    id: "VS-NET-004",
    title: "Subnets hand out no public IPs",
    rationale: "An instance with a public IP is reachable from outside as soon as a route and a rule line up.",
    fix: "Set map_public_ip_on_launch = false; NAT gateways get their Elastic IPs explicitly.",
    appliesTo: ["aws_subnet"],
    check: (subnet: TfResource) => (isTrue(subnet.values.map_public_ip_on_launch) ? ["map_public_ip_on_launch is true"] : []),
  },
  {
    id: "VS-AIR-001",
    title: "Air-gapped: no internet gateway",
    rationale: "An internet gateway is a door out of the VPC; an air-gapped network has none.",
    fix: "Remove the gateway; reach AWS APIs through VPC endpoints (PrivateNetwork with mode airgapped).",
    modes: ["airgapped"],
    appliesTo: ["aws_internet_gateway", "aws_egress_only_internet_gateway", "aws_internet_gateway_attachment"],
    check: (resource: TfResource) => [`${resource.type} exists in an air-gapped network`],
  },
  {
    id: "VS-AIR-002",
    title: "Air-gapped: no NAT gateway",
    rationale: "A NAT gateway gives private subnets a way out; air-gapped means no way out.",
    fix: "Remove the NAT gateway and its routes; use VPC endpoints.",
    modes: ["airgapped"],
    appliesTo: ["aws_nat_gateway"],
    check: () => ["a NAT gateway exists in an air-gapped network"],
  },
  {
    id: "VS-AIR-003",
    title: "Air-gapped: no public subnet",
    rationale: "A subnet that routes to an internet gateway or hands out public IPs is public, whatever its name.",
    fix: "Keep every subnet private: map_public_ip_on_launch = false and no route table with an internet gateway route.",
    modes: ["airgapped"],
    appliesTo: ["aws_subnet"],
    check: (subnet, { stack }) => {
      const problems = isTrue(subnet.values.map_public_ip_on_launch) ? ["it maps public IPs on launch"] : [];
      const publicTables = internetRouteTables(stack);
      const routed = stack
        .referencing(subnet, "aws_route_table_association")
        .filter((a) => publicTables.some((table) => references(a.values.route_table_id, table)));
      if (routed.length > 0) problems.push("its route table routes to an internet gateway");
      return problems;
    },
  },
  {
    id: "VS-AIR-004",
    title: "Air-gapped: no default route (0.0.0.0/0 or ::/0)",
    rationale: "A default route sends unknown destinations somewhere outside the VPC; in an air-gapped network there is nowhere to send them.",
    fix: "Remove the default route; add routes only for the specific internal CIDRs that must be reached.",
    modes: ["airgapped"],
    appliesTo: ["aws_route", "aws_route_table"],
    check: (resource: TfResource) => {
      const routes = resource.type === "aws_route" ? [resource.values] : blocks(resource.values.route);
      return routes
        .filter((r) => OPEN_CIDRS.includes(String(r.destination_cidr_block ?? r.cidr_block ?? "")) || OPEN_CIDRS.includes(String(r.destination_ipv6_cidr_block ?? r.ipv6_cidr_block ?? "")))
        .map((r) => `a default route (${String(r.destination_cidr_block ?? r.cidr_block ?? r.destination_ipv6_cidr_block ?? r.ipv6_cidr_block)}) exists`);
    },
  },
  {
    id: "VS-AIR-006",
    title: "Air-gapped: no public IP addresses",
    rationale: "An Elastic IP or an auto-assigned public address only makes sense with a way to the internet.",
    fix: "Remove the Elastic IP, or set associate_public_ip_address = false.",
    modes: ["airgapped"],
    appliesTo: ["aws_eip", "aws_instance", "aws_launch_template"],
    check: (resource: TfResource) => {
      if (resource.type === "aws_eip") return ["an Elastic IP exists in an air-gapped network"];
      const direct = isTrue(resource.values.associate_public_ip_address);
      const viaInterface = blocks(resource.values.network_interfaces).some((n) => isTrue(n.associate_public_ip_address));
      return direct || viaInterface ? ["instances get a public IP address"] : [];
    },
  },
];

