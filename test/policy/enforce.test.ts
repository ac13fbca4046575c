/** Synth-time enforcement: constructs used without our config, acknowledgements, and the real environments. */
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { EksAddon } from "@cdktf/provider-aws/lib/eks-addon";
import { EksCluster } from "@cdktf/provider-aws/lib/eks-cluster";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { App, TerraformStack, Testing } from "cdktf";
import * as fs from "fs";
import * as path from "path";
import { loadEnvironmentFile } from "../../app";
import { PrivateNetwork } from "../../constructs/network";
import { acknowledgePolicy, acknowledgementCovers, checkStack, enforcePolicy, PolicyOptions } from "../../constructs/policy";
import { buildApp } from "../../main";
import { container, deployment } from "./fixtures";

const root = path.join(__dirname, "..", "..");

function stackWith(build: (stack: TerraformStack) => void, options: PolicyOptions): { app: App; stack: TerraformStack } {
  const app = Testing.app();
  const stack = new TerraformStack(app, "lib");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  build(stack);
  enforcePolicy(stack, options);
  return { app, stack };
}

/** The error app.synth() throws, or undefined. */
function synthError(app: App): string | undefined {
  try {
    app.synth();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

describe("synth-time enforcement on constructs built directly", () => {
  test("an air-gapped PrivateNetwork with an internet gateway added fails synth with the rule id, path and fix", () => {
    const { app } = stackWith((stack) => {
      const network = new PrivateNetwork(stack, "network", { cidr: "10.50.0.0/16", azs: ["eu-west-1a", "eu-west-1b"], mode: "airgapped" });
      new InternetGateway(stack, "sneaky-igw", { vpcId: network.vpcId });
    }, { mode: "airgapped" });
    const message = synthError(app);
    expect(message).toContain("VS-AIR-001 lib/sneaky-igw");
    expect(message).toContain("Fix: Remove the gateway");
    expect(message).not.toContain("VS-AIR-002");
  });

  test("a raw EKS cluster and an open security group fail with VS-EKS-001/003/004 and VS-NET-001", () => {
    const { app } = stackWith((stack) => {
      new EksCluster(stack, "eks", { name: "c", roleArn: "arn:aws:iam::111122223333:role/r", vpcConfig: { subnetIds: ["subnet-1"] } });
      new SecurityGroup(stack, "open", { ingress: [{ fromPort: 443, toPort: 443, protocol: "tcp", cidrBlocks: ["0.0.0.0/0"] }] });
    }, {});
    const message = synthError(app)!;
    for (const id of ["VS-EKS-001 lib/eks", "VS-EKS-002", "VS-EKS-003", "VS-EKS-004", "VS-NET-001 lib/open"]) expect(message).toContain(id);
  });

  test("a public image in an air-gapped stack fails with VS-AIR-005; the same image in connected mode passes", () => {
    const build = (stack: TerraformStack) => {
      new Manifest(stack, "plugin", { manifest: deployment("plugin", { containers: [container({ image: "nvcr.io/nvidia/k8s-device-plugin:v0.17.1" })] }).manifest as Record<string, unknown> });
    };
    expect(synthError(stackWith(build, { mode: "airgapped" }).app)).toContain("VS-AIR-005 lib/plugin");
    const connected = stackWith(build, { mode: "connected" });
    expect(checkStack(connected.stack).violations.map((v) => v.rule)).not.toContain("VS-AIR-005");
  });

  test("an acknowledgement with a reason lets exactly that rule through and is reported with its reason", () => {
    const reason = "break-glass access from the SOC jump host range, reviewed in CHG-1234";
    const { app, stack } = stackWith(
      (s) => {
        const eks = new EksCluster(s, "eks", { name: "c", roleArn: "r", vpcConfig: { subnetIds: ["s"], endpointPrivateAccess: true }, encryptionConfig: { resources: ["secrets"], provider: { keyArn: "k" } }, enabledClusterLogTypes: ["audit", "authenticator"] });
        // What the runtime rules ask of any cluster: resource metrics and shipped, encrypted container logs.
        for (const name of ["metrics-server", "amazon-cloudwatch-observability"]) new EksAddon(s, name, { clusterName: eks.name, addonName: name });
        new CloudwatchLogGroup(s, "logs", { name: "/aws/containerinsights/c/application", kmsKeyId: "k", retentionInDays: 30 });
      },
      { acknowledgements: [{ rule: "VS-EKS-001", resource: "lib/eks", reason, source: "test" }] },
    );
    expect(synthError(app)).toBeUndefined();
    const report = checkStack(stack);
    expect(report.violations).toEqual([]);
    expect(report.acknowledged).toEqual([expect.objectContaining({ rule: "VS-EKS-001", path: "lib/eks", acknowledgement: expect.objectContaining({ reason }) })]);
    expect(report.rules.find((r) => r.id === "VS-EKS-001")?.status).toBe("acknowledged");
  });

  test("acknowledgements need a known rule and a real reason; code acknowledgements cover their subtree", () => {
    const app = Testing.app();
    expect(() => enforcePolicy(new TerraformStack(app, "a"), { acknowledgements: [{ rule: "VS-NOPE-001", resource: "a/x", reason: "a long enough reason for review" }] })).toThrow(/unknown rule id/);
    expect(() => enforcePolicy(new TerraformStack(app, "b"), { acknowledgements: [{ rule: "VS-EKS-001", resource: "b/x", reason: "because" }] })).toThrow(/at least 20 characters/);
    const { stack } = stackWith((s) => {
      const plugin = new Manifest(s, "plugin", { manifest: deployment("plugin", { pod: { volumes: [{ name: "sock", hostPath: { path: "/var/lib/kubelet/device-plugins" } }] } }).manifest as Record<string, unknown> });
      acknowledgePolicy(plugin, "VS-K8S-008", "registers with the kubelet through its device-plugin socket");
    }, {});
    const report = checkStack(stack);
    expect(report.acknowledged).toEqual([expect.objectContaining({ rule: "VS-K8S-008", acknowledgement: expect.objectContaining({ source: "code" }) })]);
    expect(() => acknowledgePolicy(stack, "VS-K8S-008", "short")).toThrow(/at least 20/);
  });

  test.each([
    ["prod-infra/cluster", "prod-infra/cluster/pool-a/launch-template", true],
    ["prod-infra/cluster", "prod-infra/cluster-other/x", false],
    ["prod-*/cluster/*/launch-template", "prod-infra/cluster/pool-a/launch-template", true],
    ["prod-infra/*", "prod-infra/cluster/pool-a", false],
    ["prod-infra/**", "prod-infra/cluster/pool-a", true],
  ])("acknowledgement resource %s covers %s: %s", (resource, target, expected) => {
    expect(acknowledgementCovers({ rule: "VS-EKS-001", resource, reason: "x" }, target)).toBe(expected);
  });
});

describe("the environments", () => {
  test("every real environment's stacks pass policy, with the device plugin's exceptions acknowledged in code", () => {
    const app = buildApp({ outdir: fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "policy-envs-")), skipValidation: true });
    app.synth();
    const stacks = app.node.children.filter((c): c is TerraformStack => TerraformStack.isStack(c));
    expect(stacks.length).toBeGreaterThanOrEqual(8);
    for (const stack of stacks) {
      const report = checkStack(stack);
      expect({ stack: stack.node.id, violations: report.violations }).toEqual({ stack: stack.node.id, violations: [] });
      if (stack.node.id.endsWith("-workloads")) {
        expect(report.acknowledged.some((a) => a.rule === "VS-K8S-008" && a.path.endsWith("/device-plugin"))).toBe(true);
      }
    }
  });

  test("an insecure config past the loader (construct-library use) fails synth with the rule ids", () => {
    // The loader and the constructs refuse 0.0.0.0/0 clients and air-gapped public endpoints outright; a public endpoint for
    // named CIDRs in connected mode gets past both, and the policy stops it unless acknowledged.
    const env = loadEnvironmentFile(path.join(root, "environments", "prod.json"));
    const insecure = { ...env, cluster: { ...env.cluster, publicEndpoint: { enabled: true, cidrs: ["198.51.100.0/24"] } } };
    const message = synthError(buildApp({ environments: [insecure], outdir: fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "policy-insecure-")) }))!;
    expect(message).toContain("VS-EKS-001 prod-infra/cluster/cluster");
    expect(message).toContain("Fix: Set vpc_config.endpoint_public_access = false");
  });
});
