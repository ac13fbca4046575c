/**
 * Rules for the trust and data perimeter on the AWS side: who may assume the workload roles, who may
 * administer or use the keys, what the VPC endpoints admit, and what the registry creates and lets read.
 */
import { INSPECTOR_SERVICE_LINKED_ROLE_PATH, POD_IDENTITY_SERVICE, POD_IDENTITY_SESSION_TAGS } from "../../shared/arn";
import { EBS_LAUNCH_ACTIONS, GRANT_ACTIONS, KEY_USE_ACTIONS, ROOT_RECOVERY_ACTIONS } from "../../shared/encryption-key";
import { RETAINED_DATA_TAG } from "../../private/names";
import { allowsEverything, conditionValues, grants, readPolicy, StatementView } from "../policy-document";
import { blocks, references, StackView, TfResource } from "../stack-view";
import { PolicyRule } from "../types";

/** The account root as a key policy names it: `arn:...:root` or a bare account id. */
function isRoot(principal: string): boolean {
  return /:root$/.test(principal) || /^\d{12}$/.test(principal);
}

/** Actions that use a key's material (or let a grant use it), as opposed to managing the key. */
const KEY_USE = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"];

/** The policy that governs a resource: its own attribute, or a separate policy resource that names it. */
function governingPolicy(resource: TfResource, stack: StackView, attribute: string, policyType: string, reference: string): unknown {
  return resource.values[attribute] ?? stack.ofType(policyType).find((p) => references(p.values[reference], resource))?.values.policy;
}

function podIdentityTrustProblems(role: TfResource, stack: StackView): string[] {
  const raw = role.values.assume_role_policy;
  const statements = readPolicy(raw, stack);
  if (!statements) return [];
  if ("error" in statements) return typeof raw === "string" && raw.includes(POD_IDENTITY_SERVICE) ? [statements.error] : [];
  const trusting = statements.filter((s) => s.effect === "Allow" && s.servicePrincipals.includes(POD_IDENTITY_SERVICE));
  const associations = stack.ofType("aws_eks_pod_identity_association").filter((a) => references(a.values.role_arn, role));
  return trusting.flatMap((statement) => {
    const tag = (key: string) => `aws:RequestTag/${key}`;
    const admitted = (key: string) => conditionValues(statement, ["StringEquals", "StringLike"], tag(key));
    const problems = Object.values(POD_IDENTITY_SESSION_TAGS).flatMap((key) => {
      const values = admitted(key);
      if (values.length === 0) return [`trusts ${POD_IDENTITY_SERVICE} with no ${tag(key)} condition`];
      return values.some((v) => /[*?]/.test(v)) ? [`its ${tag(key)} condition has a wildcard (${values.join(", ")})`] : [];
    });
    for (const association of associations) {
      const checks: [string, string][] = [
        [POD_IDENTITY_SESSION_TAGS.namespace, String(association.values.namespace)],
        [POD_IDENTITY_SESSION_TAGS.serviceAccount, String(association.values.service_account)],
      ];
      for (const [key, value] of checks) {
        const values = admitted(key);
        if (values.length > 0 && !value.includes("${") && !values.includes(value)) {
          problems.push(`${association.address} binds it to ${key} "${value}", which the trust does not admit (${values.join(", ")}): the pods would get no credentials`);
        }
      }
    }
    return problems;
  });
}

/** An IAM role matched by name, in one account: `arn:<partition>:iam::<account>:role/<name or prefix>[*]`, with no wildcard elsewhere. */
const ROLE_NAME_PATTERN = /^arn:[^:*?]+:iam::[^:*?]+:role\/[\w+=,.@-]+\*?$/;
/** One AWS service in one region, as kms:ViaService names it. */
const VIA_SERVICE_PATTERN = /^[a-z0-9-]+\.[^*?]+\.amazonaws\.com$/;

/**
 * The one shape in which the account root may hold more than recovery: EncryptionKey.allowRolesThroughService,
 * for roles created after the key. The account as principal, narrowed to IAM roles named by aws:PrincipalArn
 * (a name or a prefix, no other wildcard), through one AWS service (kms:ViaService), only using the key (no
 * administration), and grants only for AWS resources. Both the key policy and the role's IAM policy must allow.
 */
function isRolesThroughService(statement: StatementView): boolean {
  const roles = conditionValues(statement, ["ArnLike", "ArnEquals"], "aws:PrincipalArn");
  const services = conditionValues(statement, ["StringEquals"], "kms:ViaService");
  const allowed = [...KEY_USE_ACTIONS, ...EBS_LAUNCH_ACTIONS, ...GRANT_ACTIONS];
  const grantsOnlyForResources = !statement.actions.some((a) => GRANT_ACTIONS.includes(a)) || conditionValues(statement, ["Bool"], "kms:GrantIsForAWSResource").some((v) => v === "true");
  return (
    roles.length > 0 &&
    roles.every((arn) => ROLE_NAME_PATTERN.test(arn)) &&
    services.length === 1 &&
    VIA_SERVICE_PATTERN.test(services[0]) &&
    statement.actions.every((a) => allowed.includes(a)) &&
    grantsOnlyForResources
  );
}

function keyPolicyProblems(key: TfResource, stack: StackView): string[] {
  const policy = governingPolicy(key, stack, "policy", "aws_kms_key_policy", "key_id");
  const statements = readPolicy(policy, stack);
  if (!statements) return ["no key policy: KMS applies its default, under which the account root may do kms:* (so any IAM policy decides who decrypts)"];
  if ("error" in statements) return [statements.error];
  const allows = statements.filter((s) => s.effect === "Allow");
  const problems: string[] = [];
  for (const statement of allows.filter((s) => s.awsPrincipals.some(isRoot) && !isRolesThroughService(s))) {
    const beyond = statement.actions.filter((a) => !ROOT_RECOVERY_ACTIONS.includes(a));
    if (beyond.length) {
      problems.push(`statement ${statement.sid ?? "(no Sid)"} lets the account root ${beyond.join(", ")}: any IAM policy in the account can then grant it, so IAM, not the key policy, decides who administers and uses the key`);
    }
  }
  const named = (s: StatementView) => s.awsPrincipals.filter((p) => p !== "*" && !isRoot(p));
  const administrators = new Set(allows.filter((s) => grants(s, "kms:PutKeyPolicy")).flatMap(named));
  const users = new Set(allows.filter((s) => KEY_USE.some((a) => grants(s, a))).flatMap(named));
  if (administrators.size === 0) problems.push("no named key administrator may change the key policy (kms:PutKeyPolicy)");
  for (const principal of administrators) {
    if (users.has(principal)) problems.push(`${principal} both administers and uses the key: no separation of duties`);
  }
  return problems;
}

/**
 * A retained-data key is granted to the roles that create its volumes by IAM, on its tag. With named
 * administrators the account root only recovers the key, and an IAM policy grants nothing on a key whose
 * policy does not delegate to the account: the key policy itself must let those roles use the key through
 * EC2 (create a volume's data key, and the grant that attaches it to an instance).
 */
function retainedKeyUseProblems(key: TfResource, stack: StackView): string[] {
  const tags = (key.values.tags ?? {}) as Record<string, unknown>;
  if (tags[RETAINED_DATA_TAG] === undefined) return [];
  const statements = readPolicy(governingPolicy(key, stack, "policy", "aws_kms_key_policy", "key_id"), stack);
  if (!statements || "error" in statements) return [];
  const allows = statements.filter((s) => s.effect === "Allow");
  // A policy that delegates everything to the account's IAM policies (VS-KMS-002's concern) lets the tag grant work.
  if (allows.some((s) => s.awsPrincipals.some(isRoot) && grants(s, "kms:Decrypt") && Object.keys(s.conditions).length === 0)) return [];
  const throughEc2 = allows.filter((s) => conditionValues(s, ["StringEquals"], "kms:ViaService").some((v) => v.startsWith("ec2.")));
  const missing = ["kms:GenerateDataKeyWithoutPlaintext", "kms:CreateGrant"].filter((action) => !throughEc2.some((s) => grants(s, action)));
  if (missing.length === 0) return [];
  return [
    `carries ${RETAINED_DATA_TAG} (its volumes' roles are granted it by IAM on that tag), but its policy keeps the account root to recovery and lets no role ${missing.join(" or ")} through EC2: IAM alone grants nothing on it, so the EBS CSI driver could not create or attach the retained volumes`,
  ];
}

function endpointPolicyProblems(endpoint: TfResource, stack: StackView): string[] {
  const statements = readPolicy(governingPolicy(endpoint, stack, "policy", "aws_vpc_endpoint_policy", "vpc_endpoint_id"), stack);
  if (!statements) return ["no endpoint policy: AWS's default admits every principal to every resource through it, e.g. data copied to a bucket of another account"];
  if ("error" in statements) return [statements.error];
  return statements
    .filter((s) => s.effect === "Allow" && s.awsPrincipals.includes("*") && Object.keys(s.conditions).length === 0 && (s.resources.length === 0 || s.resources.includes("*")))
    .map((s) => (allowsEverything(s) ? `statement ${s.sid ?? "(no Sid)"} allows every principal every action on every resource` : `statement ${s.sid ?? "(no Sid)"} admits any principal to any resource`));
}

function creationTemplateProblems(rule: TfResource, stack: StackView): string[] {
  const prefix = rule.values.ecr_repository_prefix;
  const templates = stack
    .ofType("aws_ecr_repository_creation_template")
    .filter((t) => (Array.isArray(t.values.applied_for) ? t.values.applied_for : []).includes("PULL_THROUGH_CACHE") && (t.values.prefix === prefix || t.values.prefix === "ROOT"));
  if (templates.length === 0) {
    return [`no repository creation template applies to prefix "${String(prefix)}": the repositories it creates get AES256, mutable tags and no repository policy`];
  }
  const problems = (t: TfResource) => [
    ...(t.values.image_tag_mutability === "IMMUTABLE" ? [] : [`${t.address} leaves tags mutable`]),
    ...(blocks(t.values.encryption_configuration).some((c) => c.encryption_type === "KMS") ? [] : [`${t.address} does not encrypt with KMS`]),
    ...(typeof t.values.repository_policy === "string" && t.values.repository_policy.length > 0 ? [] : [`${t.address} sets no repository policy`]),
  ];
  const best = templates.map(problems).sort((a, b) => a.length - b.length)[0];
  return best;
}

function inspectorDenied(policy: TfResource, stack: StackView): string[] {
  const statements = readPolicy(policy.values.policy, stack);
  if (!statements) return [];
  if ("error" in statements) return [statements.error];
  return statements
    .filter((s) => s.effect === "Deny" && (grants(s, "ecr:BatchGetImage") || grants(s, "ecr:GetDownloadUrlForLayer")))
    .filter((s) => !conditionValues(s, ["ArnNotEquals", "ArnNotLike", "StringNotEquals", "StringNotLike"], "aws:PrincipalArn").some((arn) => arn.includes(INSPECTOR_SERVICE_LINKED_ROLE_PATH)))
    .map((s) => `statement ${s.sid ?? "(no Sid)"} denies image pulls to Amazon Inspector's service-linked role too, so enhanced scanning cannot read the images`);
}

export const perimeterRules: PolicyRule[] = [
  {
    id: "VS-IAM-001",
    title: "Pod Identity roles trust one cluster, namespace and service account",
    rationale:
      "A Pod Identity role that trusts the service with no condition can be bound by anyone allowed to create a pod identity association to any service account of any cluster in the account: the autoscaler's role, which terminates instances, included.",
    fix: "Add StringEquals conditions on aws:RequestTag/eks-cluster-name, aws:RequestTag/kubernetes-namespace and aws:RequestTag/kubernetes-service-account (ClusterRefs.addPodIdentityRole writes them).",
    appliesTo: ["aws_iam_role"],
    check: (role, { stack }) => podIdentityTrustProblems(role, stack),
  },
  {
    id: "VS-KMS-002",
    title: "KMS key policies name administrators apart from users, and the account root only recovers the key",
    rationale:
      "When the account root may do kms:*, any IAM policy in the account can grant decryption of the cluster's secrets, the model weights and the logs; a reviewer needs named administrators who cannot decrypt, and users who cannot change the policy.",
    fix: "Name keys.administrators (and keys.users) in the environment file, or call setKeyAccess on the stack; the account root then keeps only kms:PutKeyPolicy, kms:GetKeyPolicy and kms:DescribeKey.",
    appliesTo: ["aws_kms_key"],
    check: (key, { stack }) => keyPolicyProblems(key, stack),
  },
  {
    id: "VS-KMS-003",
    title: "A retained-data key lets the roles that create its volumes use it, in its own policy",
    rationale:
      "The EBS CSI driver is granted a retained-data key through IAM on the key's tag; once the key policy keeps the account root to recovery (VS-KMS-002), IAM policies grant nothing on it, and the driver can neither create nor attach the license proxies' volumes.",
    fix: "Admit the driver's role in the key policy by its name prefix, through EC2 only (RetainedDataKey's volumeRoleNamePrefixes: GpuCluster.ebsCsiRoleNamePrefix(clusterName)).",
    appliesTo: ["aws_kms_key"],
    check: (key, { stack }) => retainedKeyUseProblems(key, stack),
  },
  {
    id: "VS-NET-005",
    title: "VPC endpoints carry a data-perimeter policy",
    rationale:
      "An endpoint with AWS's default policy lets any credentials reach any resource through it: a pod holding a stolen key of another account can copy audio or transcripts to that account's bucket without crossing NAT.",
    fix: "Give the endpoint a policy that admits your organisation's (or account's) principals acting on its resources, plus the AWS-owned resources the cluster needs (PrivateNetwork writes them; set perimeter.organizationId).",
    appliesTo: ["aws_vpc_endpoint"],
    check: (endpoint, { stack }) => endpointPolicyProblems(endpoint, stack),
  },
  {
    id: "VS-ECR-004",
    title: "Pull-through cache rules create repositories with our controls",
    rationale:
      "A pull-through cache creates a repository on first pull; without a creation template it gets AES256 encryption, mutable tags and no policy, outside every control the registry's own repositories have.",
    fix: "Remove the rule (PrivateRegistry creates none: images arrive by copying), or add an aws_ecr_repository_creation_template for PULL_THROUGH_CACHE with KMS encryption, IMMUTABLE tags and a repository policy.",
    appliesTo: ["aws_ecr_pull_through_cache_rule"],
    check: (rule, { stack }) => creationTemplateProblems(rule, stack),
  },
  {
    id: "VS-ECR-005",
    title: "Repository pull denies let Amazon Inspector's enhanced scanning through",
    rationale: "A repository policy that denies pulls to every principal but the nodes also blocks Inspector's service-linked role, so images the nodes run go unscanned.",
    fix: "Add arn:<partition>:iam::<account>:role/aws-service-role/inspector2.amazonaws.com/AWSServiceRoleForAmazonInspector2 to the deny's aws:PrincipalArn exceptions (PrivateRegistry does).",
    appliesTo: ["aws_ecr_repository_policy"],
    check: (policy, { stack }) => inspectorDenied(policy, stack),
  },
];
