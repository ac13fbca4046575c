/** The cluster autoscaler: its AWS role (infra stacks), its Kubernetes objects (workloads stacks), and the construct's checks. */
import { App, TerraformStack, Testing } from "cdktf";
import { autoscalerDiscoveryTags, CLUSTER_AUTOSCALER_NAMESPACE, CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, GPU_TAINT } from "../../constructs/private/names";
import { clusterAutoscalerPolicy } from "../../constructs/cluster/cluster-autoscaler-role";
import { evaluate, JsonObject, StackView } from "../../constructs/policy";
import { isPrivateImage } from "../../constructs/policy/rules/workloads";
import { IMAGES } from "../../constructs/registry/images";
import { ClusterAutoscaler, ClusterAutoscalerProps } from "../../constructs/workloads/cluster-autoscaler";
import { planMirror, renderPlan, runningImages } from "../../scripts/mirror";
import { find, KubeObj, kubeObjects, StackJson, validateKubeObject } from "./support";
import { stockStacks } from "../support/stock-synth";
import { fakeNetwork } from "../support/synth";

const ENVIRONMENTS = ["airgapped", "dev", "prod", "staging"];
const MUTATING = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"];

let stacks: Record<string, StackJson>;

beforeAll(() => {
  stacks = stockStacks<StackJson>();
});

const autoscalerObjects = (env: string): KubeObj[] =>
  kubeObjects(stacks[`${env}-workloads`])
    .filter((o) => o.metadata.labels?.["app.kubernetes.io/component"] === "cluster-autoscaler" || o.metadata.namespace === CLUSTER_AUTOSCALER_NAMESPACE || o.metadata.name === CLUSTER_AUTOSCALER_NAMESPACE)
    // Prometheus' pod-reading Role in every scraped namespace belongs to monitoring (test/workloads/autoscaling-metrics.test.ts).
    .filter((o) => o.metadata.labels?.["app.kubernetes.io/component"] !== "monitoring");
const deploymentOf = (env: string): KubeObj => find(autoscalerObjects(env), "Deployment", "cluster-autoscaler")[0];
const clusterNameOf = (env: string): string => {
  const clusters = Object.values(stacks[`${env}-infra`].resource!.aws_eks_cluster) as { name: string }[];
  expect(clusters).toHaveLength(1);
  return clusters[0].name;
};

interface Statement {
  Sid: string;
  Action: string[];
  Resource: string;
  Condition?: Record<string, Record<string, string>>;
}
const autoscalerPolicyOf = (env: string): Statement[] => {
  const policies = Object.entries(stacks[`${env}-infra`].resource!.aws_iam_role_policy).filter(([address]) => address.startsWith("cluster-autoscaler"));
  expect(policies).toHaveLength(1);
  return (JSON.parse((policies[0][1] as { policy: string }).policy) as { Statement: Statement[] }).Statement;
};

describe.each(ENVIRONMENTS)("%s", (env) => {
  test("every autoscaler object validates against the Kubernetes schema (kubernetes-models, offline)", () => {
    const kinds = autoscalerObjects(env).map((o) => o.kind);
    expect(kinds.sort()).toEqual(
      ["ClusterRole", "ClusterRoleBinding", "Deployment", "Namespace", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy", "Role", "RoleBinding", "ServiceAccount"].sort(),
    );
    for (const o of autoscalerObjects(env)) expect(() => validateKubeObject(o)).not.toThrow();
  });

  test("runs the mirrored image from this environment's private ECR repository, pinned by the image list's digest", () => {
    const image: string = deploymentOf(env).spec.template.spec.containers[0].image;
    expect(isPrivateImage(image, [])).toBe(true);
    expect(image.endsWith(`@${IMAGES.clusterAutoscaler.digest}`)).toBe(true);
    const infra = new StackView(`${env}-infra`, stacks[`${env}-infra`] as JsonObject);
    const running = runningImages(infra, [new StackView(`${env}-workloads`, stacks[`${env}-workloads`] as JsonObject)]).filter((r) => r.workload.endsWith("cluster-autoscaler/deployment"));
    expect(running).toEqual([expect.objectContaining({ repository: `voice-selfhost/${env}/${IMAGES.clusterAutoscaler.repository}`, digest: IMAGES.clusterAutoscaler.digest })]);
  });

  test("auto-discovery names exactly the tag keys EKS puts on every managed node group's Auto Scaling group; the stack adds only scale-from-zero hints", () => {
    const cluster = clusterNameOf(env);
    const discovery = autoscalerDiscoveryTags(cluster);
    const command: string[] = deploymentOf(env).spec.template.spec.containers[0].command;
    expect(command).toContain(`--node-group-auto-discovery=asg:tag=${Object.keys(discovery).join(",")}`);
    expect(Object.keys(discovery)).toEqual(["k8s.io/cluster-autoscaler/enabled", `k8s.io/cluster-autoscaler/${cluster}`]);

    const asgTags = Object.values(stacks[`${env}-infra`].resource!.aws_autoscaling_group_tag) as { autoscaling_group_name: string; tag: { key: string; value: string } }[];
    const byGroup = new Map<string, Record<string, string>>();
    for (const t of asgTags) byGroup.set(t.autoscaling_group_name, { ...byGroup.get(t.autoscaling_group_name), [t.tag.key]: t.tag.value });
    // EKS tags a managed node group's Auto Scaling group with the discovery keys itself (the EKS user guide,
    // "Managed node groups"): owning them here would delete them with a pool, so no tag resource names them.
    for (const tags of byGroup.values()) expect(Object.keys(tags).filter((key) => key in discovery)).toEqual([]);
    // GPU pools can scale from zero: the template hints say what a node would bring; the system pool gets none.
    const gpuPools = (Object.values(stacks[`${env}-infra`].resource!.aws_eks_node_group) as { taint?: unknown }[]).filter((g) => g.taint);
    const gpuGroups = [...byGroup.values()].filter((tags) => tags["k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu"]);
    expect(gpuGroups).toHaveLength(gpuPools.length);
    expect(byGroup.size).toBe(gpuPools.length);
    for (const tags of gpuGroups) expect(tags[`k8s.io/cluster-autoscaler/node-template/taint/${GPU_TAINT.key}`]).toBe(`${GPU_TAINT.value}:${GPU_TAINT.effect}`);
  });

  test("the IAM policy lets the autoscaler scale only Auto Scaling groups tagged as this cluster's", () => {
    const cluster = clusterNameOf(env);
    const statements = autoscalerPolicyOf(env);
    const mutating = statements.filter((s) => s.Action.some((a) => MUTATING.includes(a)));
    expect(mutating).toHaveLength(1);
    expect(mutating[0].Action.sort()).toEqual([...MUTATING].sort());
    expect(mutating[0].Condition).toEqual({
      StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true", [`aws:ResourceTag/k8s.io/cluster-autoscaler/${cluster}`]: "owned" },
    });
    // Everything granted without a condition only reads.
    for (const s of statements.filter((st) => !st.Condition)) {
      for (const action of s.Action) expect(action).toMatch(/^(autoscaling|ec2|eks):(Describe|GetInstanceTypesFromInstanceRequirements)/);
    }
    // The role is assumed through Pod Identity by exactly the autoscaler's service account.
    const associations = Object.values(stacks[`${env}-infra`].resource!.aws_eks_pod_identity_association) as { namespace: string; service_account: string }[];
    expect(associations).toContainEqual(expect.objectContaining({ namespace: CLUSTER_AUTOSCALER_NAMESPACE, service_account: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT }));
  });

  test("the Deployment: one replica on the system pool, restricted, probed, with the flags and the region", () => {
    const d = deploymentOf(env);
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(d.metadata.namespace).toBe(CLUSTER_AUTOSCALER_NAMESPACE);
    expect(d.spec.replicas).toBe(1);
    expect(pod.serviceAccountName).toBe(CLUSTER_AUTOSCALER_SERVICE_ACCOUNT);
    expect(pod.priorityClassName).toBe("system-cluster-critical");
    expect(pod.tolerations).toBeUndefined();
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]).toEqual({
      key: "voice-selfhost.io/node-role",
      operator: "In",
      values: ["system"],
    });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } });
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(c.resources).toEqual({ requests: { cpu: "100m", memory: "300Mi" }, limits: { memory: "600Mi" } });
    expect(c.ports).toEqual([{ name: "http", containerPort: 8085, protocol: "TCP" }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: "/health-check", port: "http" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/health-check", port: "http" });
    expect(c.command).toEqual(
      expect.arrayContaining([
        "/cluster-autoscaler",
        "--cloud-provider=aws",
        "--balance-similar-node-groups",
        "--skip-nodes-with-system-pods=false",
        "--expander=least-waste",
        `--namespace=${CLUSTER_AUTOSCALER_NAMESPACE}`,
      ]),
    );
    const region = (stacks[`${env}-infra`].provider!.aws[0] as { region: string }).region;
    expect(region).toMatch(/^[a-z]{2}-[a-z]+-\d$/);
    expect(c.env).toEqual([{ name: "AWS_REGION", value: region }]);
  });

  test("its namespace is restricted and default-deny; egress only to DNS, the Pod Identity agent and 443 on the VPC and service CIDRs", () => {
    const objects = autoscalerObjects(env);
    const ns = find(objects, "Namespace", CLUSTER_AUTOSCALER_NAMESPACE)[0];
    expect(ns.metadata.labels!["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const policies = find(objects, "NetworkPolicy");
    expect(find(policies, "NetworkPolicy", "default-deny")[0].spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    const egress = find(policies, "NetworkPolicy", "cluster-autoscaler-egress")[0].spec.egress;
    const infraVpc = Object.values(stacks[`${env}-infra`].resource!.aws_vpc)[0] as { cidr_block: string };
    expect(egress).toEqual([
      { to: [{ ipBlock: { cidr: infraVpc.cidr_block } }, { ipBlock: { cidr: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+\/\d+$/) } }], ports: [{ protocol: "TCP", port: 443 }] },
      { to: [{ ipBlock: { cidr: "169.254.170.23/32" } }], ports: [{ protocol: "TCP", port: 80 }] },
    ]);
    const ingress = find(policies, "NetworkPolicy", "cluster-autoscaler-metrics")[0].spec.ingress;
    expect(ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: [{ protocol: "TCP", port: 8085 }] }]);
  });

  // The synth above already enforced the policy with every acknowledgement; here, without any, nothing of the autoscaler may be found.
  test("the policy engine finds nothing in the autoscaler's objects, with no acknowledgement at all", () => {
    const report = evaluate(new StackView(`${env}-workloads`, stacks[`${env}-workloads`] as JsonObject), { mode: env === "airgapped" ? "airgapped" : "connected" });
    expect(report.violations.length).toBeGreaterThan(0); // the GPU agents' acknowledged exceptions, so the rules did run
    expect(report.violations.filter((f) => f.path.includes("/cluster-autoscaler/"))).toEqual([]);
  });
});

test("npm run mirror -- airgapped lists the autoscaler as run by the workloads stack", () => {
  const plan = planMirror("airgapped");
  expect(plan.problems).toEqual([]);
  expect(renderPlan(plan)).toMatch(/# clusterAutoscaler: .*\n.*\n#\s+run by: airgapped-workloads\/cluster-autoscaler\/deployment \(cluster-autoscaler\)/);
}, 120_000);

describe("clusterAutoscalerPolicy", () => {
  test("derives its condition from the discovery tags of the cluster it is given", () => {
    const scale = clusterAutoscalerPolicy("other-cluster").find((s) => s.Sid === "ScaleOnlyThisClustersGroups")!;
    expect(scale.Condition).toEqual({
      StringEquals: Object.fromEntries(Object.entries(autoscalerDiscoveryTags("other-cluster")).map(([k, v]) => [`aws:ResourceTag/${k}`, v])),
    });
  });
});

describe("ClusterAutoscaler props", () => {
  const IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/autoscaling/cluster-autoscaler@sha256:" + "b".repeat(64);
  const props: ClusterAutoscalerProps = { image: IMAGE, cluster: { name: "c1", network: fakeNetwork(), serviceCidr: "172.20.0.0/16" }, region: "eu-west-1" };
  const build = (extra: Partial<ClusterAutoscalerProps>) => {
    const app: App = Testing.app();
    return new ClusterAutoscaler(new TerraformStack(app, "test"), "ca", { ...props, ...extra });
  };

  test("only required props: objects validate, the namespace and service account are the defaults ClusterAutoscalerRole associates", () => {
    const app: App = Testing.app();
    const stack = new TerraformStack(app, "test");
    new ClusterAutoscaler(stack, "ca", props);
    const objects = kubeObjects(JSON.parse(Testing.synth(stack)) as StackJson);
    for (const o of objects) validateKubeObject(o);
    const d = find(objects, "Deployment")[0];
    expect(d.metadata.namespace).toBe(CLUSTER_AUTOSCALER_NAMESPACE);
    expect(find(objects, "ServiceAccount")[0].metadata).toMatchObject({ name: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, namespace: CLUSTER_AUTOSCALER_NAMESPACE });
    expect(find(objects, "ServiceAccount")[0].metadata.annotations).toBeUndefined();
    expect(d.spec.template.spec.containers[0].command).toContain("--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/c1");
  });

  test("bad props fail with the field and what was expected", () => {
    expect(() => build({ image: "registry.k8s.io/autoscaling/cluster-autoscaler:latest" })).toThrow(/test\/ca image: expected an image pinned/);
    expect(() => build({ apiCidrs: [] })).toThrow(/apiCidrs: expected the CIDRs/);
    expect(() => build({ apiCidrs: ["0.0.0.0/0"] })).toThrow(/apiCidrs: 0\.0\.0\.0\/0 opens egress to every address/);
    expect(() => build({ apiCidrs: ["10.0.0.0/33"] })).toThrow(/apiCidrs: expected IPv4 CIDRs, found "10.0.0.0\/33"/);
    expect(() => build({ cluster: { ...props.cluster, name: "${aws_eks_cluster.x.name}" } })).toThrow(/cluster\.name: expected the EKS cluster name as a literal/);
    expect(() => build({ region: "Ireland" })).toThrow(/region: expected an AWS region/);
  });
});
