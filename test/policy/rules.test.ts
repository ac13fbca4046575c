/** Every rule fires on a non-compliant stack and stays quiet on a compliant one (table-driven). */
import { RULES } from "../../constructs/policy";
import { airgapped, Case, check, connected, container, defaultDeny, deployment, k8s, pdb, Resources } from "./fixtures";
import { JsonObject } from "../../constructs/policy";
import { RUNTIME_CASES } from "./runtime-cases";

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
const doc = (...statements: JsonObject[]): string => JSON.stringify({ Version: "2012-10-17", Statement: statements });
const podTrust = (condition?: JsonObject) =>
  doc({ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"], ...(condition ? { Condition: condition } : {}) });
const scopedTrust = {
  StringEquals: { "aws:RequestTag/eks-cluster-name": "c", "aws:RequestTag/kubernetes-namespace": "voice", "aws:RequestTag/kubernetes-service-account": "inference" },
};
const podRole = (trust: string, association?: JsonObject): Resources => ({
  aws_iam_role: { role: { assume_role_policy: trust } },
  ...(association ? { aws_eks_pod_identity_association: { assoc: { cluster_name: "c", role_arn: "${aws_iam_role.role.arn}", ...association } } } : {}),
});
const ROOT = "arn:${local.key_partition}:iam::${local.key_account}:root";
const ADMIN = "arn:aws:iam::111122223333:role/key-admin";
const USER = "arn:aws:iam::111122223333:role/model-publisher";
const recovery = { Sid: "AccountRecoversKeyPolicy", Effect: "Allow", Principal: { AWS: ROOT }, Action: ["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey"], Resource: "*" };
const admins = { Sid: "KeyAdministrators", Effect: "Allow", Principal: { AWS: [ADMIN] }, Action: ["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DescribeKey"], Resource: "*" };
const users = { Sid: "KeyUsers", Effect: "Allow", Principal: { AWS: [USER] }, Action: ["kms:Decrypt", "kms:GenerateDataKey*"], Resource: "*" };
const ROLE_PREFIX = "arn:${local.key_partition}:iam::${local.key_account}:role/voice-selfhost-prod-ebs-csi-*";
/** EncryptionKey.allowRolesThroughService's two statements, as RetainedDataKey writes them for the EBS CSI driver. */
const throughEc2 = (condition: JsonObject = {}) => ({
  ArnLike: { "aws:PrincipalArn": ROLE_PREFIX },
  StringEquals: { "kms:ViaService": "ec2.${local.key_region}.amazonaws.com", "kms:CallerAccount": "${local.key_account}" },
  ...condition,
});
const rolesUse = { Sid: "VolumeRoles0UseKeyThroughEc2", Effect: "Allow", Principal: { AWS: ROOT }, Action: ["kms:GenerateDataKeyWithoutPlaintext", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey"], Resource: "*", Condition: throughEc2() };
const rolesGrant = {
  Sid: "VolumeRoles0UseKeyThroughEc2Grants",
  Effect: "Allow",
  Principal: { AWS: ROOT },
  Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
  Resource: "*",
  Condition: throughEc2({ Bool: { "kms:GrantIsForAWSResource": true } }),
};
const retainedKey = (...statements: JsonObject[]): Resources => ({
  aws_kms_key: { k: { enable_key_rotation: true, tags: { "voice-selfhost:retained-data": "prod" } } },
  aws_kms_key_policy: { p: { key_id: "${aws_kms_key.k.key_id}", policy: doc(...statements) } },
});
const keyWithPolicy = (...statements: JsonObject[]): Resources => ({
  aws_kms_key: { k: { enable_key_rotation: true } },
  aws_kms_key_policy: { p: { key_id: "${aws_kms_key.k.key_id}", policy: doc(...statements) } },
});
const perimeterPolicy = doc(
  { Sid: "OwnPrincipalsToOwnResources", Effect: "Allow", Principal: "*", Action: "*", Resource: "*", Condition: { StringEquals: { "aws:PrincipalOrgID": "o-a1b2c3d4e5", "aws:ResourceOrgID": "o-a1b2c3d4e5" } } },
  { Sid: "EcrImageLayers", Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*" },
);
const endpoint = (extra: JsonObject = {}): Resources => ({ aws_vpc_endpoint: { e: { vpc_id: vpcRef, service_name: "com.amazonaws.eu-west-1.s3", vpc_endpoint_type: "Gateway", ...extra } } });
const template = (extra: JsonObject = {}): JsonObject => ({
  prefix: "cache",
  applied_for: ["PULL_THROUGH_CACHE"],
  image_tag_mutability: "IMMUTABLE",
  encryption_configuration: [{ encryption_type: "KMS", kms_key: "k" }],
  repository_policy: doc({ Sid: "Pull", Effect: "Allow", Principal: { AWS: "arn:aws:iam::111122223333:role/nodes" }, Action: "ecr:BatchGetImage" }),
  ...extra,
});
const cacheRule = (templates: JsonObject[] = []): Resources => ({
  aws_ecr_pull_through_cache_rule: { r: { ecr_repository_prefix: "cache", upstream_registry_url: "public.ecr.aws" } },
  ...(templates.length ? { aws_ecr_repository_creation_template: Object.fromEntries(templates.map((t, i) => [`t${i}`, t])) } : {}),
});
const INSPECTOR = "arn:${local.p}:iam::${local.a}:role/aws-service-role/inspector2.amazonaws.com/AWSServiceRoleForAmazonInspector2";
const pullDeny = (except: string[]): JsonObject => ({
  Sid: "DenyPullsByOthers",
  Effect: "Deny",
  Principal: "*",
  Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
  Condition: { ArnNotEquals: { "aws:PrincipalArn": ["arn:aws:iam::111122223333:role/nodes", ...except] } },
});
const repoPolicy = (policy: string, locals?: JsonObject): Case => ({ resources: { aws_ecr_repository_policy: { p: { repository: "r", policy } } }, locals });
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
  ...RUNTIME_CASES,
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
  "VS-IAM-001": {
    fail: [
      connected(podRole(podTrust())),
      connected(podRole(podTrust({ StringLike: { ...scopedTrust.StringEquals, "aws:RequestTag/kubernetes-namespace": "*" } }))),
      connected(podRole(podTrust(scopedTrust), { namespace: "other", service_account: "inference" })),
    ],
    pass: [
      connected(podRole(podTrust(scopedTrust), { namespace: "voice", service_account: "inference" })),
      connected({ aws_iam_role: { node: { assume_role_policy: doc({ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }) } } }),
    ],
  },
  "VS-KMS-002": {
    fail: [
      connected({ aws_kms_key: { k: { enable_key_rotation: true } } }),
      connected(keyWithPolicy({ Sid: "AccountAdministers", Effect: "Allow", Principal: { AWS: ROOT }, Action: "kms:*", Resource: "*" })),
      connected(keyWithPolicy(recovery, users)),
      connected(keyWithPolicy(recovery, admins, { ...users, Principal: { AWS: [ADMIN, USER] } })),
      connected({ aws_kms_key: { k: { enable_key_rotation: true, policy: doc(recovery, admins, { Sid: "RootDecrypts", Effect: "Allow", Principal: { AWS: "111122223333" }, Action: "kms:Decrypt", Resource: "*" }) } } }),
      // The roles-through-a-service shape, each time widened one way: any role, any service, a second service, administration, grants for anyone.
      connected(keyWithPolicy(recovery, admins, { ...rolesUse, Condition: throughEc2({ ArnLike: { "aws:PrincipalArn": "arn:aws:iam::111122223333:role/*" } }) })),
      connected(keyWithPolicy(recovery, admins, { ...rolesUse, Condition: throughEc2({ ArnLike: { "aws:PrincipalArn": "arn:aws:iam::111122223333:*" } }) })),
      connected(keyWithPolicy(recovery, admins, { ...rolesUse, Condition: { ArnLike: rolesUse.Condition.ArnLike } })),
      connected(keyWithPolicy(recovery, admins, { ...rolesUse, Condition: throughEc2({ StringEquals: { "kms:ViaService": ["ec2.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com"] } }) })),
      connected(keyWithPolicy(recovery, admins, { ...rolesUse, Condition: { ArnLike: rolesUse.Condition.ArnLike, StringLike: { "kms:ViaService": "*.amazonaws.com" } } })),
      connected(keyWithPolicy(recovery, admins, { ...rolesUse, Action: ["kms:Decrypt", "kms:PutKeyPolicy"] })),
      connected(keyWithPolicy(recovery, admins, { ...rolesGrant, Condition: throughEc2() })),
    ],
    pass: [
      connected(keyWithPolicy(recovery, admins, users)),
      connected({ aws_kms_key: { k: { enable_key_rotation: true, policy: doc(recovery, admins) } } }),
      connected(keyWithPolicy(recovery, admins, users, rolesUse, rolesGrant)),
    ],
  },
  "VS-KMS-003": {
    fail: [
      // main's prod-data key (fa7a57a): named administrators, and the EBS CSI driver left to IAM on the tag.
      connected(retainedKey(recovery, admins, users)),
      connected(retainedKey(recovery, admins, rolesUse)),
      connected(retainedKey(recovery, admins, rolesGrant)),
      connected(retainedKey(recovery, admins, { ...rolesUse, Action: [...rolesUse.Action, "kms:CreateGrant"], Condition: { ArnLike: rolesUse.Condition.ArnLike } })),
    ],
    pass: [
      connected(retainedKey(recovery, admins, users, rolesUse, rolesGrant)),
      // A key that lets IAM decide (VS-KMS-002's finding, not this rule's): the tag grant works there.
      connected(retainedKey({ Sid: "AccountAdministers", Effect: "Allow", Principal: { AWS: ROOT }, Action: "kms:*", Resource: "*" })),
      connected(keyWithPolicy(recovery, admins, users)),
    ],
  },
  "VS-NET-005": {
    fail: [
      connected(endpoint()),
      connected(endpoint({ policy: doc({ Effect: "Allow", Principal: "*", Action: "*", Resource: "*" }) })),
      connected(endpoint({ policy: doc({ Sid: "AnyBucket", Effect: "Allow", Principal: { AWS: "*" }, Action: "s3:PutObject", Resource: "*" }) })),
    ],
    pass: [
      connected(endpoint({ policy: perimeterPolicy })),
      connected({ ...endpoint(), aws_vpc_endpoint_policy: { p: { vpc_endpoint_id: "${aws_vpc_endpoint.e.id}", policy: perimeterPolicy } } }),
    ],
  },
  "VS-ECR-004": {
    fail: [
      connected(cacheRule()),
      connected(cacheRule([template({ image_tag_mutability: "MUTABLE" })])),
      connected(cacheRule([template({ encryption_configuration: [{ encryption_type: "AES256" }], repository_policy: undefined as unknown as string })])),
      connected(cacheRule([template({ applied_for: ["REPLICATION"] })])),
    ],
    pass: [connected(cacheRule([template()])), connected(cacheRule([template({ prefix: "ROOT" })]))],
  },
  "VS-ECR-005": {
    fail: [repoPolicy(doc(pullDeny([]))), repoPolicy("${local.repository-policy}", { "repository-policy": doc({ Sid: "DenyAll", Effect: "Deny", Principal: "*", Action: "ecr:*" }) })],
    pass: [repoPolicy(doc(pullDeny([INSPECTOR]))), repoPolicy("${local.rp}", { rp: doc(pullDeny([INSPECTOR])) })],
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
      const report = check(c.resources, { mode: c.mode }, { locals: c.locals, provider: c.provider });
      const findings = report.violations.filter((v) => v.rule === id);
      expect(findings.length).toBeGreaterThan(0);
      for (const f of findings) {
        expect(f.path).toMatch(/^fixture(\/|$)/);
        expect(f.message.length).toBeGreaterThan(5);
      }
      expect(report.rules.find((r) => r.id === id)?.status).toBe("fail");
    });
    it.each(pass.map((c, i) => [i, c] as const))("stays quiet on compliant case %d", (_i, c) => {
      const report = check(c.resources, { mode: c.mode }, { locals: c.locals, provider: c.provider });
      expect(report.violations.filter((v) => v.rule === id)).toEqual([]);
      expect(["pass", "not-applicable"]).toContain(report.rules.find((r) => r.id === id)?.status);
    });
  });

  it("checks the compliant cases against real rules, not vacuously: each resource rule passes on at least one case it applies to", () => {
    for (const [id, { pass }] of Object.entries(CASES)) {
      const statuses = pass.map((c) => check(c.resources, { mode: c.mode }, { locals: c.locals, provider: c.provider }).rules.find((r) => r.id === id)?.status);
      if (["VS-AIR-001", "VS-AIR-002"].includes(id)) continue; // absence rules: nothing to apply to when compliant
      expect({ id, statuses }).toEqual({ id, statuses: expect.arrayContaining(["pass"]) });
    }
  });
});

describe("the perimeter rules say what is wrong", () => {
  const messages = (c: Case, rule: string) =>
    check(c.resources, { mode: c.mode }, { locals: c.locals })
      .violations.filter((v) => v.rule === rule)
      .map((v) => v.message);

  test("VS-IAM-001 names each missing session-tag condition, a wildcard, and an association the trust would refuse", () => {
    expect(messages(connected(podRole(podTrust())), "VS-IAM-001")).toEqual([
      "trusts pods.eks.amazonaws.com with no aws:RequestTag/eks-cluster-name condition",
      "trusts pods.eks.amazonaws.com with no aws:RequestTag/kubernetes-namespace condition",
      "trusts pods.eks.amazonaws.com with no aws:RequestTag/kubernetes-service-account condition",
    ]);
    expect(messages(connected(podRole(podTrust({ StringLike: { ...scopedTrust.StringEquals, "aws:RequestTag/kubernetes-namespace": "*" } }))), "VS-IAM-001")).toEqual([
      "its aws:RequestTag/kubernetes-namespace condition has a wildcard (*)",
    ]);
    expect(messages(connected(podRole(podTrust(scopedTrust), { namespace: "other", service_account: "inference" })), "VS-IAM-001")).toEqual([
      'aws_eks_pod_identity_association.assoc binds it to kubernetes-namespace "other", which the trust does not admit (voice): the pods would get no credentials',
    ]);
  });

  test("VS-KMS-002 tells the root's extra powers, a missing administrator and an administrator who also uses the key apart", () => {
    expect(messages(connected({ aws_kms_key: { k: {} } }), "VS-KMS-002")).toEqual([expect.stringMatching(/^no key policy: KMS applies its default/)]);
    expect(messages(connected(keyWithPolicy({ Sid: "AccountAdministers", Effect: "Allow", Principal: { AWS: ROOT }, Action: "kms:*", Resource: "*" })), "VS-KMS-002")).toEqual([
      expect.stringMatching(/^statement AccountAdministers lets the account root kms:\*: any IAM policy/),
      "no named key administrator may change the key policy (kms:PutKeyPolicy)",
    ]);
    expect(messages(connected(keyWithPolicy(recovery, admins, { ...users, Principal: { AWS: [ADMIN, USER] } })), "VS-KMS-002")).toEqual([
      `${ADMIN} both administers and uses the key: no separation of duties`,
    ]);
  });

  test("VS-KMS-002 accepts the account root only in the roles-through-a-service shape, and says why otherwise", () => {
    expect(messages(connected(keyWithPolicy(recovery, admins, users, rolesUse, rolesGrant)), "VS-KMS-002")).toEqual([]);
    expect(messages(connected(keyWithPolicy(recovery, admins, { ...rolesUse, Action: ["kms:Decrypt", "kms:PutKeyPolicy"] })), "VS-KMS-002")).toEqual([
      expect.stringMatching(/^statement VolumeRoles0UseKeyThroughEc2 lets the account root kms:Decrypt: any IAM policy/),
    ]);
  });

  test("VS-KMS-003 names what the volume driver could not do", () => {
    expect(messages(connected(retainedKey(recovery, admins, users)), "VS-KMS-003")).toEqual([
      expect.stringMatching(/lets no role kms:GenerateDataKeyWithoutPlaintext or kms:CreateGrant through EC2: IAM alone grants nothing on it, so the EBS CSI driver could not create or attach/),
    ]);
    expect(messages(connected(retainedKey(recovery, admins, rolesUse)), "VS-KMS-003")).toEqual([expect.stringMatching(/lets no role kms:CreateGrant through EC2/)]);
  });

  test("VS-NET-005, VS-ECR-004 and VS-ECR-005 name the statement or the template at fault", () => {
    expect(messages(connected(endpoint()), "VS-NET-005")).toEqual([expect.stringMatching(/^no endpoint policy: AWS's default admits every principal/)]);
    expect(messages(connected(endpoint({ policy: doc({ Sid: "AnyBucket", Effect: "Allow", Principal: { AWS: "*" }, Action: "s3:PutObject", Resource: "*" }) })), "VS-NET-005")).toEqual([
      "statement AnyBucket admits any principal to any resource",
    ]);
    expect(messages(connected(cacheRule([template({ image_tag_mutability: "MUTABLE" })])), "VS-ECR-004")).toEqual(["aws_ecr_repository_creation_template.t0 leaves tags mutable"]);
    expect(messages(repoPolicy(doc(pullDeny([]))), "VS-ECR-005")).toEqual([
      "statement DenyPullsByOthers denies image pulls to Amazon Inspector's service-linked role too, so enhanced scanning cannot read the images",
    ]);
  });
});
