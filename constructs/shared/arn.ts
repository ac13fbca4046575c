import { Fn, Token } from "cdktf";

/**
 * The account, region and partition of whatever an ARN names, as Terraform expressions. Reading them
 * from a resource we create avoids `aws_caller_identity`/`aws_region` data sources, so `terraform plan`
 * runs with no credentials. Pick an ARN that has the part (IAM ARNs have no region).
 */
export function arnParts(arn: string): { readonly partition: string; readonly region: string; readonly account: string } {
  const part = (index: number) => Fn.element(Fn.split(":", arn), index);
  return { partition: part(1), region: part(3), account: part(4) };
}

/** One IAM policy statement; values may hold Terraform references. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow" | "Deny";
  readonly Principal?: unknown;
  readonly Action: string | string[];
  /** Omitted only in trust policies. */
  readonly Resource?: string | string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/**
 * The policy as JSON text in which Terraform references become `${...}` interpolations, resolved at
 * plan time (the provider checks the result is valid JSON). Not `Fn.jsonencode`: cdktf resolves a
 * jsonencode argument once per nesting level, which made policies about half of all synth time.
 * References must render without quotes or backslashes (ARNs, ids, names do). A document holding
 * literal template syntax (an IAM variable such as `${aws:username}`) or a non-string token takes
 * `Fn.jsonencode`, which escapes and encodes those.
 */
export function policyDocument(statements: readonly PolicyStatement[]): string {
  const document = { Version: "2012-10-17", Statement: statements };
  return plainStringsOnly(document) ? JSON.stringify(document) : Fn.jsonencode(document);
}

/** cdktf encodes a string reference as `${TfToken[TOKEN.n]}`; any other `${` or `%{` is template syntax Terraform would expand. */
const LITERAL_TEMPLATE = /\$\{(?!TfToken\[TOKEN\.\d+\]\})|%\{/;

function plainStringsOnly(value: unknown): boolean {
  if (typeof value === "string") return !LITERAL_TEMPLATE.test(value);
  if (Token.isUnresolved(value)) return false;
  if (Array.isArray(value)) return value.every(plainStringsOnly);
  if (value !== null && typeof value === "object") return Object.values(value).every(plainStringsOnly);
  return true;
}

/** A role trust policy for one AWS service principal; `condition` narrows it (a confused-deputy guard). */
export function trustPolicy(service: string, actions: string[] = ["sts:AssumeRole"], condition?: PolicyStatement["Condition"]): string {
  return policyDocument([{ Sid: "ServiceAssumesRole", Effect: "Allow", Principal: { Service: service }, Action: actions, ...(condition ? { Condition: condition } : {}) }]);
}

/** The service principal EKS Pod Identity assumes workload roles as. */
export const POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com";

/**
 * Session tags EKS Pod Identity sets on every AssumeRole (EKS User Guide, "Grant Pods access to AWS
 * resources based on tags"), whose `aws:RequestTag/<key>` a trust policy can require.
 */
export const POD_IDENTITY_SESSION_TAGS = {
  cluster: "eks-cluster-name",
  namespace: "kubernetes-namespace",
  serviceAccount: "kubernetes-service-account",
} as const;

/**
 * The trust policy of a Pod Identity role that only one service account of one cluster can assume
 * (EKS User Guide, "Create IAM role with trust policy required by EKS Pod Identity"): sts:TagSession
 * lets the service pass its session tags, and the conditions require the three that name the workload.
 * Without them, anyone allowed to create a pod identity association could bind the role to any
 * service account of any cluster in the account.
 */
export function podIdentityTrustPolicy(workload: { readonly clusterName: string; readonly namespace: string; readonly serviceAccount: string }): string {
  const tag = (key: string) => `aws:RequestTag/${key}`;
  return trustPolicy(POD_IDENTITY_SERVICE, ["sts:AssumeRole", "sts:TagSession"], {
    StringEquals: {
      [tag(POD_IDENTITY_SESSION_TAGS.cluster)]: workload.clusterName,
      [tag(POD_IDENTITY_SESSION_TAGS.namespace)]: workload.namespace,
      [tag(POD_IDENTITY_SESSION_TAGS.serviceAccount)]: workload.serviceAccount,
    },
  });
}

/**
 * The service-linked role Amazon Inspector scans ECR images with (enhanced scanning pulls every image
 * it scans). Source: Amazon Inspector User Guide, "Using service-linked roles for Amazon Inspector".
 */
export const INSPECTOR_SERVICE_LINKED_ROLE_PATH = "role/aws-service-role/inspector2.amazonaws.com/AWSServiceRoleForAmazonInspector2";

/** Amazon Inspector's service-linked role in `account`. */
export function inspectorServiceLinkedRoleArn(partition: string, account: string): string {
  return `arn:${partition}:iam::${account}:${INSPECTOR_SERVICE_LINKED_ROLE_PATH}`;
}

/** An AWS managed policy ARN in the partition of `anyArn`. */
export function managedPolicyArn(anyArn: string, name: string): string {
  return `arn:${arnParts(anyArn).partition}:iam::aws:policy/${name}`;
}
