/** Rules for the AWS resources: the cluster, nodes, registry, buckets, load balancer, keys and logs. */
import { blocks, isTrue, launchTemplateOf, references, StackView, TfResource, valueAt } from "../stack-view";
import { PolicyRule } from "../types";

/**
 * TLS policies that allow only TLS 1.2+ with forward-secret ciphers (TLS 1.3 policies and the FS-1-2 family).
 * Source: Elastic Load Balancing's security policy table (docs.aws.amazon.com/elasticloadbalancing/latest/network/describe-ssl-policies.html).
 */
export const MODERN_TLS_POLICIES: readonly string[] = [
  "ELBSecurityPolicy-TLS13-1-2-2021-06",
  "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
  "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
  "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
  "ELBSecurityPolicy-TLS13-1-3-2021-06",
  "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
  "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
  "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
  "ELBSecurityPolicy-FS-1-2-Res-2020-10",
  "ELBSecurityPolicy-FS-1-2-Res-2019-08",
];

/** Volumes a resource launches, with whether each is encrypted; an instance's include its launch template's. */
function volumes(resource: TfResource, stack: StackView): { device: string; encrypted: boolean }[] {
  const v = resource.values;
  switch (resource.type) {
    case "aws_launch_template":
      return blocks(v.block_device_mappings).map((m) => ({ device: String(m.device_name ?? "?"), encrypted: isTrue(valueAt(m, ["ebs", "encrypted"])) }));
    case "aws_instance": {
      const template = launchTemplateOf(resource, stack);
      return [
        ...blocks(v.root_block_device).map((d) => ({ device: "root", encrypted: isTrue(d.encrypted) })),
        ...blocks(v.ebs_block_device).map((d) => ({ device: String(d.device_name ?? "?"), encrypted: isTrue(d.encrypted) })),
        ...(template ? volumes(template, stack).map((d) => ({ ...d, device: `${d.device} (launch template)` })) : []),
      ];
    }
    case "aws_ebs_volume":
      return [{ device: "volume", encrypted: isTrue(v.encrypted) }];
    default:
      return [];
  }
}

/** A bucket-scoped companion resource (public access block, encryption, policy) that names `bucket`. */
function companions(bucket: TfResource, stack: StackView, type: string): TfResource[] {
  return stack.ofType(type).filter((r) => references(r.values.bucket, bucket));
}

/** True when a bucket policy (JSON text or a jsonencode expression) denies requests without TLS. */
export function deniesInsecureTransport(policy: unknown): boolean {
  if (typeof policy !== "string") return false;
  try {
    const statements = blocks((JSON.parse(policy) as { Statement?: unknown }).Statement);
    return statements.some((s) => s.Effect === "Deny" && String(valueAt(s, ["Condition", "Bool", "aws:SecureTransport"])) === "false");
  } catch {
    // Written with Fn.jsonencode: an HCL object, not JSON. Look for the same statement in its text.
    return /"Effect"\s*=\s*"Deny"/.test(policy) && /"aws:SecureTransport"\s*=\s*"?false"?/.test(policy);
  }
}

export const awsRules: PolicyRule[] = [
  {
    id: "VS-EKS-001",
    title: "EKS API endpoint is not public",
    rationale: "A public Kubernetes API endpoint is one stolen credential away from the cluster; the provider default is public.",
    fix: "Set vpc_config.endpoint_public_access = false (the default of GpuCluster) and reach the API from inside the VPC.",
    appliesTo: ["aws_eks_cluster"],
    check: (cluster: TfResource) => {
      const value = valueAt(cluster.values, ["vpc_config", "endpoint_public_access"]);
      if (value === false || value === "false") return [];
      return [value === undefined ? "endpoint_public_access is unset, and AWS defaults it to true" : "endpoint_public_access is true"];
    },
  },
  {
    id: "VS-EKS-002",
    title: "EKS private API endpoint is on",
    rationale: "Without the private endpoint, nodes in private subnets cannot reach the API server to join.",
    fix: "Set vpc_config.endpoint_private_access = true.",
    appliesTo: ["aws_eks_cluster"],
    check: (cluster: TfResource) => (isTrue(valueAt(cluster.values, ["vpc_config", "endpoint_private_access"])) ? [] : ["endpoint_private_access is not true"]),
  },
  {
    id: "VS-EKS-003",
    title: "EKS secrets are envelope-encrypted with KMS",
    rationale: "Kubernetes Secrets (license keys, API keys) sit in etcd; envelope encryption protects them with a key you control.",
    fix: "Add encryption_config { resources = [\"secrets\"], provider { key_arn = <customer-managed key> } }.",
    appliesTo: ["aws_eks_cluster"],
    check: (cluster: TfResource) => {
      const config = blocks(cluster.values.encryption_config);
      const ok = config.some((c) => Array.isArray(c.resources) && c.resources.includes("secrets") && typeof valueAt(c, ["provider", "key_arn"]) === "string");
      return ok ? [] : ["no encryption_config with resources [\"secrets\"] and a KMS key"];
    },
  },
  {
    id: "VS-EKS-004",
    title: "EKS control-plane audit and authenticator logs are on",
    rationale: "Audit logs record who did what to the cluster; a regulated reviewer will ask for them first.",
    fix: "Set enabled_cluster_log_types to include \"audit\" and \"authenticator\" (GpuCluster also enables \"api\").",
    appliesTo: ["aws_eks_cluster"],
    check: (cluster: TfResource) => {
      const types = Array.isArray(cluster.values.enabled_cluster_log_types) ? cluster.values.enabled_cluster_log_types : [];
      const missing = ["audit", "authenticator"].filter((t) => !types.includes(t));
      return missing.length ? [`enabled_cluster_log_types lacks ${missing.join(", ")}`] : [];
    },
  },
  {
    id: "VS-EC2-001",
    title: "Instances require IMDSv2",
    rationale: "IMDSv1 answers any GET, so an SSRF bug in a pod becomes the node role's credentials.",
    fix: "Set metadata_options { http_tokens = \"required\" }.",
    appliesTo: ["aws_launch_template", "aws_instance"],
    check: (resource: TfResource) => (valueAt(resource.values, ["metadata_options", "http_tokens"]) === "required" ? [] : ["metadata_options.http_tokens is not \"required\""]),
  },
  {
    id: "VS-EC2-002",
    title: "Instance metadata hop limit is 1",
    rationale: "With a hop limit of 2 or more, pods in their own network namespace reach the node role's credentials.",
    fix: "Set metadata_options { http_put_response_hop_limit = 1 }; give pods AWS access through Pod Identity instead.",
    appliesTo: ["aws_launch_template", "aws_instance"],
    check: (resource: TfResource) => {
      const limit = Number(valueAt(resource.values, ["metadata_options", "http_put_response_hop_limit"]));
      return limit === 1 ? [] : [`http_put_response_hop_limit is ${Number.isNaN(limit) ? "unset" : limit}, not 1`];
    },
  },
  {
    id: "VS-EC2-003",
    title: "Volumes are encrypted",
    rationale: "Node volumes hold container layers, model weights and spooled data.",
    fix: "Set encrypted = true (and a customer-managed kms_key_id) on every block device.",
    appliesTo: ["aws_launch_template", "aws_instance", "aws_ebs_volume"],
    check: (resource: TfResource, { stack }) => volumes(resource, stack).filter((v) => !v.encrypted).map((v) => `${v.device} is not encrypted`),
  },
  {
    id: "VS-EC2-004",
    title: "EKS node groups use a launch template of this stack",
    rationale: "Without our launch template, a node group gets EKS's defaults: IMDSv1 allowed and no control of volume encryption.",
    fix: "Give the node group a launch_template that sets IMDSv2 and encrypted volumes (NodePool does).",
    appliesTo: ["aws_eks_node_group"],
    check: (group, { stack }) => (launchTemplateOf(group, stack) ? [] : ["launch_template does not name an aws_launch_template of this stack"]),
  },
  {
    id: "VS-ECR-001",
    title: "ECR tags are immutable",
    rationale: "A mutable tag lets a push silently change what every node runs; immutable tags make the mirror manifest the truth.",
    fix: "Set image_tag_mutability = \"IMMUTABLE\".",
    appliesTo: ["aws_ecr_repository"],
    check: (repo: TfResource) => (repo.values.image_tag_mutability === "IMMUTABLE" ? [] : [`image_tag_mutability is ${String(repo.values.image_tag_mutability ?? "MUTABLE (default)")}`]),
  },
  {
    id: "VS-ECR-002",
    title: "ECR images are scanned on push",
    rationale: "Mirrored images arrive from outside; scanning on push is the checkpoint before any node pulls them.",
    fix: "Set image_scanning_configuration { scan_on_push = true }, or an enhanced aws_ecr_registry_scanning_configuration.",
    appliesTo: ["aws_ecr_repository"],
    check: (repo, { stack }) => {
      const registryScan = stack
        .ofType("aws_ecr_registry_scanning_configuration")
        .some((c) => c.values.scan_type === "ENHANCED" || blocks(c.values.rule).some((r) => r.scan_frequency === "SCAN_ON_PUSH" || r.scan_frequency === "CONTINUOUS_SCAN"));
      return registryScan || isTrue(valueAt(repo.values, ["image_scanning_configuration", "scan_on_push"])) ? [] : ["scan_on_push is not enabled"];
    },
  },
  {
    id: "VS-ECR-003",
    title: "ECR repositories are encrypted with KMS",
    rationale: "A customer-managed key puts image access under the same key policy and audit trail as the rest of the environment.",
    fix: "Set encryption_configuration { encryption_type = \"KMS\", kms_key = <key ARN> }.",
    appliesTo: ["aws_ecr_repository"],
    check: (repo: TfResource) => (blocks(repo.values.encryption_configuration).some((c) => c.encryption_type === "KMS") ? [] : ["encryption_type is not KMS"]),
  },
  {
    id: "VS-S3-001",
    title: "S3 buckets block all public access",
    rationale: "One public ACL or policy on the model bucket publishes the weights and anything else stored there.",
    fix: "Add aws_s3_bucket_public_access_block with all four settings true (SecureBucket does).",
    appliesTo: ["aws_s3_bucket"],
    check: (bucket, { stack }) => {
      const flags = ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"];
      const blocksAll = companions(bucket, stack, "aws_s3_bucket_public_access_block").some((b) => flags.every((f) => isTrue(b.values[f])));
      return blocksAll ? [] : ["no public access block with all four settings true"];
    },
  },
  {
    id: "VS-S3-002",
    title: "S3 buckets refuse requests without TLS",
    rationale: "Model weights and usage exports must not cross any network in clear text.",
    fix: "Add a bucket policy statement denying s3:* when aws:SecureTransport is false (SecureBucket does).",
    appliesTo: ["aws_s3_bucket"],
    check: (bucket, { stack }) =>
      [...companions(bucket, stack, "aws_s3_bucket_policy").map((p) => p.values.policy), bucket.values.policy].some(deniesInsecureTransport)
        ? []
        : ["no bucket policy denies aws:SecureTransport = false"],
  },
  {
    id: "VS-S3-003",
    title: "S3 buckets are encrypted with KMS",
    rationale: "SSE-S3 protects against lost disks only; a customer-managed key adds access control and an audit trail.",
    fix: "Add aws_s3_bucket_server_side_encryption_configuration with sse_algorithm = \"aws:kms\" and your key.",
    appliesTo: ["aws_s3_bucket"],
    check: (bucket, { stack }) => {
      const kms = companions(bucket, stack, "aws_s3_bucket_server_side_encryption_configuration").some((c) =>
        blocks(c.values.rule).some((r) => String(valueAt(r, ["apply_server_side_encryption_by_default", "sse_algorithm"])).startsWith("aws:kms")),
      );
      return kms ? [] : ["no server-side encryption configuration with aws:kms"];
    },
  },
  {
    id: "VS-LB-001",
    title: "Load balancers are internal",
    rationale: "Audio must not be reachable from the internet; the provider's default is internet-facing.",
    fix: "Set internal = true (InternalLoadBalancer does).",
    appliesTo: ["aws_lb", "aws_alb", "aws_elb"],
    check: (lb: TfResource) => (isTrue(lb.values.internal) ? [] : [lb.values.internal === undefined ? "internal is unset, and AWS defaults to internet-facing" : "internal is false"]),
  },
  {
    id: "VS-LB-002",
    title: "TLS listeners use a modern TLS policy",
    rationale: "Old policies allow TLS 1.0/1.1 and ciphers without forward secrecy.",
    fix: `Set ssl_policy to one of: ${MODERN_TLS_POLICIES.slice(0, 3).join(", ")}, ...`,
    appliesTo: ["aws_lb_listener", "aws_alb_listener"],
    check: (listener: TfResource) => {
      if (!["TLS", "HTTPS"].includes(String(listener.values.protocol))) return [];
      const policy = listener.values.ssl_policy;
      return typeof policy === "string" && MODERN_TLS_POLICIES.includes(policy) ? [] : [`ssl_policy ${String(policy ?? "(unset: AWS picks an older default)")} is not a TLS 1.2+ forward-secret policy`];
    },
  },
  {
    id: "VS-KMS-001",
    title: "KMS keys rotate",
    rationale: "Yearly rotation limits how much data one key version protects; the default is off.",
    fix: "Set enable_key_rotation = true.",
    appliesTo: ["aws_kms_key"],
    check: (key: TfResource) => (isTrue(key.values.enable_key_rotation) ? [] : ["enable_key_rotation is not true"]),
  },
  {
    id: "VS-LOG-001",
    title: "Log groups are KMS-encrypted and have a retention",
    rationale: "Control-plane and flow logs name users and addresses; they need a key you control and a defined lifetime.",
    fix: "Set kms_key_id and retention_in_days on the log group.",
    appliesTo: ["aws_cloudwatch_log_group"],
    check: (group: TfResource) => [
      ...(typeof group.values.kms_key_id === "string" ? [] : ["kms_key_id is unset"]),
      ...(Number(group.values.retention_in_days) > 0 ? [] : ["retention_in_days is unset (logs kept forever)"]),
    ],
  },
];
