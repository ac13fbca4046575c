/** Every rule fires on a non-compliant stack and stays quiet on a compliant one (table-driven). */
import { RULES } from "../../constructs/policy";
import { check, container, defaultDeny, deployment, k8s, pdb, Resources } from "./fixtures";
import { JsonObject, NetworkMode } from "../../constructs/policy";

interface Case {
  readonly resources: Resources;
  readonly mode?: NetworkMode;
}
const connected = (resources: Resources): Case => ({ resources });
const airgapped = (resources: Resources): Case => ({ resources, mode: "airgapped" });

const vpc = { cidr_block: "10.0.0.0/16" };
const vpcRef = "${aws_vpc.vpc.id}";
const cluster = (vpcConfig: JsonObject, extra: JsonObject = {}): Resources => ({
  aws_eks_cluster: {
    eks: {
      name: "c",
      vpc_config: { subnet_ids: ["subnet-1"], ...vpcConfig },
      encryption_config: { resources: ["secrets"], provider: { key_arn: "${aws_kms_key.k.arn}" } },
      enabled_cluster_log_types: ["api", "audit", "authenticator"],
      ...extra,
    },
  },
});
const privateCluster = { endpoint_public_access: false, endpoint_private_access: true };
const launchTemplate = (extra: JsonObject = {}): JsonObject => ({
  metadata_options: { http_tokens: "required", http_put_response_hop_limit: 1 },
  block_device_mappings: [{ device_name: "/dev/xvda", ebs: { encrypted: "true", volume_size: 50 } }],
  ...extra,
});
const repo = (extra: JsonObject = {}): Resources => ({
  aws_ecr_repository: {
    repo: { name: "r", image_tag_mutability: "IMMUTABLE", image_scanning_configuration: { scan_on_push: true }, encryption_configuration: [{ encryption_type: "KMS", kms_key: "k" }], ...extra },
  },
});
const bucketRef = "${aws_s3_bucket.b.id}";
const tlsOnly = '${jsonencode({"Statement" = [{"Action" = "s3:*", "Condition" = {"Bool" = {"aws:SecureTransport" = "false"}}, "Effect" = "Deny", "Principal" = "*"}], "Version" = "2012-10-17"})}';
const bucket = (parts: { pab?: JsonObject; policy?: string; sse?: string } = {}): Resources => ({
  aws_s3_bucket: { b: { bucket_prefix: "models-" } },
  aws_s3_bucket_public_access_block: {
    pab: { bucket: bucketRef, block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true, ...parts.pab },
  },
  aws_s3_bucket_policy: { pol: { bucket: bucketRef, policy: parts.policy ?? tlsOnly } },
  aws_s3_bucket_server_side_encryption_configuration: {
    sse: { bucket: bucketRef, rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: parts.sse ?? "aws:kms", kms_master_key_id: "k" } }] },
  },
});
const workloads = (extra: Resources["kubernetes_manifest"]): Resources => ({ kubernetes_manifest: { deny: defaultDeny(), ...extra } });
const withContainer = (overrides: JsonObject) => workloads({ app: deployment("app", { containers: [container(overrides)] }) });
const withPod = (pod: JsonObject) => workloads({ app: deployment("app", { pod }) });
const context = (overrides: JsonObject) => ({ securityContext: { ...(container().securityContext as JsonObject), ...overrides } });
const proxy = (pod: JsonObject, spec: JsonObject = {}): Resources =>
  workloads({
    proxy: k8s({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "license-proxy", namespace: "voice" },
      spec: { replicas: 1, selector: { matchLabels: { app: "p" } }, template: { metadata: { labels: { app: "p" } }, spec: { serviceAccountName: "license-proxy", ...pod } }, ...spec },
    }),
  });
const spoolMount = { containers: [container({ volumeMounts: [{ name: "spool", mountPath: "/var/lib/license-proxy" }] })] };
const configMap = (data: JsonObject) => workloads({ cm: k8s({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg", namespace: "voice" }, data }) });

const CASES: Record<string, { fail: Case[]; pass: Case[] }> = {
  "VS-TF-001": {
    fail: [
      // What LicenseProxy used to write: the storage class's fqn, a token string.
      connected({ kubernetes_manifest: { sts: { manifest: { kind: "StatefulSet" }, depends_on: ["kubernetes_manifest.ns", "${kubernetes_manifest.storage-class}"] } } }),
      connected({ aws_eks_addon: { a: { addon_name: "coredns", depends_on: "aws_eks_node_group.system" } } }),
    ],
    pass: [
      connected({
        kubernetes_manifest: { sts: { manifest: { kind: "StatefulSet" }, depends_on: ["kubernetes_manifest.ns", "kubernetes_manifest.storage-class_storage-class_1A2B3C4D"] } },
        aws_eks_addon: { a: { addon_name: "coredns", depends_on: ["aws_eks_node_group.system", "data.aws_region.here", "module.vpc"] } },
      }),
    ],
  },
  "VS-NET-001": {
    fail: [
      connected({ aws_security_group: { sg: { ingress: [{ from_port: 443, to_port: 443, protocol: "tcp", cidr_blocks: ["0.0.0.0/0"] }] } } }),
      connected({ aws_security_group_rule: { r: { type: "ingress", from_port: 22, to_port: 22, protocol: "tcp", cidr_blocks: ["10.0.0.0/8", "0.0.0.0/0"] } } }),
      connected({ aws_vpc_security_group_ingress_rule: { r: { ip_protocol: "tcp", from_port: 443, to_port: 443, cidr_ipv6: "::/0" } } }),
    ],
    pass: [
      connected({
        aws_security_group: { sg: { ingress: [{ from_port: 443, to_port: 443, protocol: "tcp", cidr_blocks: ["10.0.0.0/8"] }], egress: [{ cidr_blocks: ["0.0.0.0/0"] }] } },
        aws_security_group_rule: { r: { type: "egress", cidr_blocks: ["0.0.0.0/0"] } },
        aws_vpc_security_group_ingress_rule: { i: { cidr_ipv4: "10.42.0.0/16" } },
      }),
    ],
  },
  "VS-NET-002": {
    fail: [
      connected({ aws_vpc: { vpc } }),
      connected({ aws_vpc: { vpc }, aws_default_security_group: { d: { vpc_id: vpcRef, ingress: [{ self: true, protocol: "-1" }] } } }),
    ],
    pass: [connected({ aws_vpc: { vpc }, aws_default_security_group: { d: { vpc_id: vpcRef, ingress: [], egress: [] } } })],
  },
  "VS-NET-003": {
    fail: [connected({ aws_vpc: { vpc } })],
    pass: [connected({ aws_vpc: { vpc }, aws_flow_log: { fl: { vpc_id: vpcRef, traffic_type: "ALL" } } })],
  },
  "VS-NET-004": {
    fail: [connected({ aws_subnet: { s: { map_public_ip_on_launch: true } } })],
    pass: [connected({ aws_subnet: { s: { map_public_ip_on_launch: false } } })],
  },
  "VS-AIR-001": {
    fail: [airgapped({ aws_internet_gateway: { igw: { vpc_id: vpcRef } } }), airgapped({ aws_egress_only_internet_gateway: { eigw: { vpc_id: vpcRef } } })],
    pass: [connected({ aws_internet_gateway: { igw: { vpc_id: vpcRef } } }), airgapped({ aws_vpc: { vpc } })],
  },
  "VS-AIR-002": {
    fail: [airgapped({ aws_nat_gateway: { nat: { subnet_id: "s" } } })],
    pass: [connected({ aws_nat_gateway: { nat: { subnet_id: "s" } } })],
  },
  "VS-AIR-003": {
    fail: [
      airgapped({ aws_subnet: { s: { map_public_ip_on_launch: true } } }),
      airgapped({
        aws_subnet: { s: { map_public_ip_on_launch: false } },
        aws_internet_gateway: { igw: {} },
        aws_route_table: { rt: { vpc_id: vpcRef } },
        aws_route: { r: { route_table_id: "${aws_route_table.rt.id}", destination_cidr_block: "0.0.0.0/0", gateway_id: "${aws_internet_gateway.igw.id}" } },
        aws_route_table_association: { a: { subnet_id: "${aws_subnet.s.id}", route_table_id: "${aws_route_table.rt.id}" } },
      }),
    ],
    pass: [
      airgapped({
        aws_subnet: { s: { map_public_ip_on_launch: false } },
        aws_route_table: { rt: { vpc_id: vpcRef } },
        aws_route_table_association: { a: { subnet_id: "${aws_subnet.s.id}", route_table_id: "${aws_route_table.rt.id}" } },
      }),
    ],
  },
  "VS-AIR-004": {
    fail: [
      airgapped({ aws_route: { r: { route_table_id: "rt", destination_cidr_block: "0.0.0.0/0", transit_gateway_id: "tgw-1" } } }),
      airgapped({ aws_route_table: { rt: { route: [{ ipv6_cidr_block: "::/0", gateway_id: "x" }] } } }),
    ],
    pass: [airgapped({ aws_route: { r: { route_table_id: "rt", destination_cidr_block: "192.168.0.0/16", transit_gateway_id: "tgw-1" } } })],
  },
  "VS-AIR-006": {
    fail: [airgapped({ aws_eip: { e: { domain: "vpc" } } }), airgapped({ aws_launch_template: { lt: launchTemplate({ network_interfaces: [{ associate_public_ip_address: "true" }] }) } })],
    pass: [airgapped({ aws_launch_template: { lt: launchTemplate() } })],
  },
  "VS-EKS-001": {
    fail: [connected(cluster({ endpoint_public_access: true, endpoint_private_access: true })), connected(cluster({ endpoint_private_access: true }))],
    pass: [connected(cluster(privateCluster))],
  },
  "VS-EKS-002": {
    fail: [connected(cluster({ endpoint_public_access: false }))],
    pass: [connected(cluster(privateCluster))],
  },
  "VS-EKS-003": {
    fail: [connected(cluster(privateCluster, { encryption_config: undefined as unknown as JsonObject })), connected(cluster(privateCluster, { encryption_config: { resources: ["configmaps"], provider: { key_arn: "k" } } }))],
    pass: [connected(cluster(privateCluster))],
  },
  "VS-EKS-004": {
    fail: [connected(cluster(privateCluster, { enabled_cluster_log_types: ["api"] }))],
    pass: [connected(cluster(privateCluster))],
  },
  "VS-EKS-005": {
    fail: [connected({ aws_eks_node_group: { g: { tags: { "voice-selfhost:gpu-workloads": "none" } } } })],
    pass: [connected({ aws_eks_node_group: { g: { tags: { "voice-selfhost:gpu-workloads": "inference" } } } }), connected({ aws_eks_node_group: { g: {} } })],
  },
  "VS-EC2-001": {
    fail: [connected({ aws_launch_template: { lt: launchTemplate({ metadata_options: { http_tokens: "optional", http_put_response_hop_limit: 1 } }) } }), connected({ aws_instance: { i: {} } })],
    pass: [connected({ aws_launch_template: { lt: launchTemplate() } })],
  },
  "VS-EC2-002": {
    fail: [connected({ aws_launch_template: { lt: launchTemplate({ metadata_options: { http_tokens: "required", http_put_response_hop_limit: 2 } }) } })],
    pass: [connected({ aws_launch_template: { lt: launchTemplate() } })],
  },
  "VS-EC2-003": {
    fail: [
      connected({ aws_launch_template: { lt: launchTemplate({ block_device_mappings: [{ device_name: "/dev/xvda", ebs: { volume_size: 50 } }] }) } }),
      connected({ aws_ebs_volume: { v: { size: 10, availability_zone: "eu-west-1a" } } }),
      // An instance whose launch template (the admin host's way of launching) leaves its root volume clear.
      connected({
        aws_launch_template: { lt: launchTemplate({ block_device_mappings: [{ device_name: "/dev/xvda", ebs: { volume_size: 20 } }] }) },
        aws_instance: { host: { instance_type: "t3.small", launch_template: { id: "${aws_launch_template.lt.id}", version: "1" } } },
      }),
    ],
    pass: [
      connected({ aws_launch_template: { lt: launchTemplate() }, aws_ebs_volume: { v: { size: 10, encrypted: true } } }),
      connected({ aws_launch_template: { lt: launchTemplate() }, aws_instance: { host: { instance_type: "t3.small", launch_template: { id: "${aws_launch_template.lt.id}", version: "1" } } } }),
    ],
  },
  "VS-EC2-004": {
    fail: [connected({ aws_eks_node_group: { ng: { disk_size: 50 } } })],
    pass: [connected({ aws_launch_template: { lt: launchTemplate() }, aws_eks_node_group: { ng: { launch_template: { id: "${aws_launch_template.lt.id}", version: "1" } } } })],
  },
  "VS-ECR-001": { fail: [connected(repo({ image_tag_mutability: "MUTABLE" }))], pass: [connected(repo())] },
  "VS-ECR-002": {
    fail: [connected(repo({ image_scanning_configuration: { scan_on_push: false } }))],
    pass: [connected(repo()), connected({ ...repo({ image_scanning_configuration: undefined as unknown as JsonObject }), aws_ecr_registry_scanning_configuration: { s: { scan_type: "ENHANCED" } } })],
  },
  "VS-ECR-003": { fail: [connected(repo({ encryption_configuration: [{ encryption_type: "AES256" }] }))], pass: [connected(repo())] },
  "VS-S3-001": { fail: [connected(bucket({ pab: { restrict_public_buckets: false } })), connected({ aws_s3_bucket: { b: {} } })], pass: [connected(bucket())] },
  "VS-S3-002": {
    fail: [connected(bucket({ policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: "s3:GetObject", Principal: "*" }] }) }))],
    pass: [
      connected(bucket()),
      connected(bucket({ policy: JSON.stringify({ Statement: [{ Effect: "Deny", Principal: "*", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }] }) })),
    ],
  },
  "VS-S3-003": { fail: [connected(bucket({ sse: "AES256" }))], pass: [connected(bucket())] },
  "VS-LB-001": {
    fail: [connected({ aws_lb: { lb: { load_balancer_type: "network" } } }), connected({ aws_lb: { lb: { internal: false } } })],
    pass: [connected({ aws_lb: { lb: { internal: true, load_balancer_type: "network" } } })],
  },
  "VS-LB-002": {
    fail: [connected({ aws_lb_listener: { l: { protocol: "TLS", port: 443, ssl_policy: "ELBSecurityPolicy-2016-08" } } }), connected({ aws_lb_listener: { l: { protocol: "HTTPS", port: 443 } } })],
    pass: [connected({ aws_lb_listener: { l: { protocol: "TLS", port: 443, ssl_policy: "ELBSecurityPolicy-TLS13-1-2-2021-06" }, tcp: { protocol: "TCP", port: 8080 } } })],
  },
  "VS-KMS-001": { fail: [connected({ aws_kms_key: { k: { description: "x" } } })], pass: [connected({ aws_kms_key: { k: { enable_key_rotation: true } } })] },
  "VS-LOG-001": {
    fail: [connected({ aws_cloudwatch_log_group: { g: { name: "g", retention_in_days: 30 } } }), connected({ aws_cloudwatch_log_group: { g: { name: "g", kms_key_id: "k" } } })],
    pass: [connected({ aws_cloudwatch_log_group: { g: { name: "g", kms_key_id: "k", retention_in_days: 365 } } })],
  },
  "VS-K8S-001": {
    fail: [connected(withContainer(context({ runAsNonRoot: false }))), connected(withContainer(context({ runAsUser: 0 })))],
    pass: [connected(workloads({ app: deployment("app") }))],
  },
  "VS-K8S-002": { fail: [connected(withContainer(context({ readOnlyRootFilesystem: false })))], pass: [connected(workloads({ app: deployment("app") }))] },
  "VS-K8S-003": {
    fail: [connected(withContainer({ resources: { requests: { cpu: "1", memory: "1Gi" } } })), connected(withContainer({ resources: {} }))],
    pass: [connected(workloads({ app: deployment("app") }))],
  },
  "VS-K8S-004": {
    fail: [connected(withContainer({ livenessProbe: undefined as unknown as JsonObject })), connected(withContainer({ readinessProbe: undefined as unknown as JsonObject }))],
    pass: [connected(workloads({ app: deployment("app"), job: deployment("once", { kind: "Job", containers: [container({ readinessProbe: undefined as unknown as JsonObject, livenessProbe: undefined as unknown as JsonObject })] }) }))],
  },
  "VS-K8S-005": {
    fail: [connected(withContainer(context({ privileged: true }))), connected(withContainer(context({ allowPrivilegeEscalation: true })))],
    pass: [connected(workloads({ app: deployment("app") }))],
  },
  "VS-K8S-006": { fail: [connected(withContainer(context({ capabilities: { drop: ["NET_RAW"] } })))], pass: [connected(workloads({ app: deployment("app") }))] },
  "VS-K8S-007": { fail: [connected(withPod({ hostNetwork: true })), connected(withPod({ hostPID: true }))], pass: [connected(withPod({ hostNetwork: false }))] },
  "VS-K8S-008": {
    fail: [connected(withPod({ volumes: [{ name: "sock", hostPath: { path: "/var/lib/kubelet/device-plugins" } }] }))],
    pass: [connected(withPod({ volumes: [{ name: "tmp", emptyDir: {} }] }))],
  },
  "VS-K8S-009": {
    fail: [
      connected({ kubernetes_manifest: { app: deployment("app") } }),
      connected({
        kubernetes_manifest: {
          app: deployment("app"),
          ns: k8s({ apiVersion: "v1", kind: "Namespace", metadata: { name: "voice" } }),
          ingressOnly: k8s({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "d", namespace: "voice" }, spec: { podSelector: {}, policyTypes: ["Ingress"] } }),
        },
      }),
    ],
    pass: [
      connected(workloads({ app: deployment("app"), plugin: deployment("plugin", { kind: "DaemonSet", namespace: "kube-system" }) })),
    ],
  },
  "VS-K8S-010": {
    fail: [
      connected(workloads({ app: deployment("app", { replicas: 2 }) })),
      connected(workloads({ app: deployment("app"), other: pdb("other"), hpa: k8s({ apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "h", namespace: "voice" }, spec: { scaleTargetRef: { kind: "Deployment", name: "app" }, minReplicas: 1, maxReplicas: 4 } }) })),
    ],
    pass: [connected(workloads({ app: deployment("app", { replicas: 3 }), budget: pdb("app") })), connected(workloads({ app: deployment("app", { replicas: 1 }) }))],
  },
  "VS-K8S-011": {
    fail: [
      connected(proxy({ ...spoolMount, volumes: [{ name: "spool", emptyDir: {} }] })),
      connected(proxy({ ...spoolMount, volumes: [] }, { volumeClaimTemplates: [{ metadata: { name: "other" } }] })),
    ],
    pass: [
      connected(proxy(spoolMount, { volumeClaimTemplates: [{ metadata: { name: "spool" }, spec: { accessModes: ["ReadWriteOnce"] } }] })),
      connected(proxy({ ...spoolMount, volumes: [{ name: "spool", persistentVolumeClaim: { claimName: "spool" } }] })),
    ],
  },
  "VS-SEC-001": {
    fail: [
      connected(configMap({ REDIS_PASSWORD: "changeme" })),
      connected(configMap({ "config.yaml": "upstream:\n  api_key: 9f8e7d6c5b4a39281706\n" })),
      connected(withContainer({ env: [{ name: "LICENSE_KEY", value: "lk_live_4f9a8b7c6d5e4f3a2b1c" }] })),
      connected(withContainer({ env: [{ name: "AWS_KEY", value: "AKIAIOSFODNN7EXAMPLE" }] })),
    ],
    pass: [
      connected(configMap({ LOG_LEVEL: "info", TOKEN_HEADER: "Authorization", "config.yaml": "bearer_token_file: /var/run/secrets/token\nport: 8080\n" })),
      connected(withContainer({ env: [{ name: "API_KEY", valueFrom: { secretKeyRef: { name: "keys", key: "api" } } }, { name: "API_KEYS_FILE", value: "/etc/keys/api-keys" }] })),
    ],
  },
  "VS-SEC-002": {
    fail: [
      connected(workloads({ s: k8s({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "voice" }, stringData: { key: "x" } }) })),
      connected({ kubernetes_secret_v1: { s: { metadata: { name: "s" }, data: { key: "x" } } } }),
    ],
    pass: [connected(workloads({ s: k8s({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "voice" }, type: "Opaque" }) }))],
  },
  "VS-IMG-001": {
    fail: [connected(withContainer({ image: "111122223333.dkr.ecr.eu-west-1.amazonaws.com/app:latest" })), connected(withContainer({ image: "busybox" }))],
    pass: [
      connected(withContainer({ image: "111122223333.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:af31e2b7c7f89834c4e5219860def7ac2e49a207b3d4e8610d5a26772b7738e5" })),
      connected(withContainer({ image: "localhost:5000/app:1.2.3" })),
    ],
  },
  "VS-AIR-005": {
    fail: [airgapped(withContainer({ image: "nvcr.io/nvidia/k8s-device-plugin:v0.17.1" })), airgapped(withContainer({ image: "${var.image}:1.0.0" }))],
    pass: [
      airgapped(workloads({ app: deployment("app") })),
      airgapped(withContainer({ image: "${data.terraform_remote_state.infra.outputs.cross-stack-output-aws_ecr_repositoryregistry_repo_ABC123repository_url}:1.0.0" })),
      connected(withContainer({ image: "nvcr.io/nvidia/k8s-device-plugin:v0.17.1" })),
    ],
  },
};

describe("policy rules", () => {
  it("has a failing and a passing case for every rule, and at least 25 rules with unique ids", () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(25);
    expect(Object.keys(CASES).sort()).toEqual([...ids].sort());
    for (const rule of RULES) {
      expect(rule.rationale.length).toBeGreaterThan(20);
      expect(rule.fix.length).toBeGreaterThan(10);
    }
  });

  describe.each(Object.entries(CASES))("%s", (id, { fail, pass }) => {
    it.each(fail.map((c, i) => [i, c] as const))("fires on non-compliant case %d", (_i, c) => {
      const report = check(c.resources, { mode: c.mode });
      const findings = report.violations.filter((v) => v.rule === id);
      expect(findings.length).toBeGreaterThan(0);
      for (const f of findings) {
        expect(f.path).toMatch(/^fixture(\/|$)/);
        expect(f.message.length).toBeGreaterThan(5);
      }
      expect(report.rules.find((r) => r.id === id)?.status).toBe("fail");
    });
    it.each(pass.map((c, i) => [i, c] as const))("stays quiet on compliant case %d", (_i, c) => {
      const report = check(c.resources, { mode: c.mode });
      expect(report.violations.filter((v) => v.rule === id)).toEqual([]);
      expect(["pass", "not-applicable"]).toContain(report.rules.find((r) => r.id === id)?.status);
    });
  });

  it("checks the compliant cases against real rules, not vacuously: each resource rule passes on at least one case it applies to", () => {
    for (const [id, { pass }] of Object.entries(CASES)) {
      const statuses = pass.map((c) => check(c.resources, { mode: c.mode }).rules.find((r) => r.id === id)?.status);
      if (["VS-AIR-001", "VS-AIR-002"].includes(id)) continue; // absence rules: nothing to apply to when compliant
      expect({ id, statuses }).toEqual({ id, statuses: expect.arrayContaining(["pass"]) });
    }
  });
});
