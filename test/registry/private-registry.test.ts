import * as fs from "fs";
import * as path from "path";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { AirGappedRegistry, IMAGES, PrivateRegistry } from "../../constructs/registry";
import { fakeNetwork, only, policyStatements, resources, synthJson, testStack } from "../support/synth";

const NODE_ROLE = "arn:aws:iam::111122223333:role/nodes";
const MIRROR_ROLE = "arn:aws:iam::111122223333:role/image-mirror";
/** Amazon Inspector's service-linked role, in the registry key's partition and account. */
const INSPECTOR = expect.stringMatching(/^arn:\$\{local\.registry_key_partition_\w+\}:iam::\$\{local\.registry_key_account_\w+\}:role\/aws-service-role\/inspector2\.amazonaws\.com\/AWSServiceRoleForAmazonInspector2$/);

function synthRegistry(mode: "connected" | "airgapped") {
  const { stack } = testStack();
  const registry = new PrivateRegistry(stack, "registry", { network: fakeNetwork(mode), pullerRoleArns: [NODE_ROLE] });
  return { registry, json: synthJson(stack) };
}

describe("PrivateRegistry with only the required props", () => {
  const { registry, json } = synthRegistry("connected");
  const repos = Object.values(resources(json, "aws_ecr_repository")) as Record<string, any>[];

  test("one repository per image in the list: immutable, scanned on push, KMS with its own key", () => {
    expect(repos.map((r) => r.name).sort()).toEqual(Object.values(IMAGES).map((i) => `voice-selfhost/${i.repository}`).sort());
    for (const repo of repos) {
      expect(repo).toMatchObject({ image_tag_mutability: "IMMUTABLE", image_scanning_configuration: { scan_on_push: true }, force_delete: false });
      expect(repo.encryption_configuration).toEqual([{ encryption_type: "KMS", kms_key: expect.stringContaining("aws_kms_key.registry_key") }]);
    }
    expect(only(json, "aws_kms_key")).toMatchObject({ enable_key_rotation: true });
  });

  test("lifecycle and pull policies on every repository: only the node role and Amazon Inspector's enhanced scanning pull", () => {
    const lifecycles = Object.values(resources(json, "aws_ecr_lifecycle_policy"));
    expect(lifecycles).toHaveLength(repos.length);
    const rules = JSON.parse(String(lifecycles[0].policy)).rules;
    expect(rules.map((r: any) => r.selection.tagStatus)).toEqual(["untagged", "any"]);
    const policies = Object.values(resources(json, "aws_ecr_repository_policy")).map((p) => policyStatements(json, p.policy));
    expect(policies).toHaveLength(repos.length);
    expect(policies[0].NodesPull).toMatchObject({ Effect: "Allow", Principal: { AWS: [NODE_ROLE] } });
    expect(policies[0].DenyPullsByOthers).toMatchObject({ Effect: "Deny", Condition: { ArnNotEquals: { "aws:PrincipalArn": [NODE_ROLE, INSPECTOR] } } });
    expect(policies[0].DenyPullsOutsideVpcEndpoints).toBeUndefined();
    expect(policies[0].MirrorsPushAndVerify).toBeUndefined();
  });

  test("no pull-through cache rule: no repository is ever created outside the registry's controls", () => {
    expect(resources(json, "aws_ecr_pull_through_cache_rule")).toEqual({});
    expect(resources(json, "aws_ecr_repository_creation_template")).toEqual({});
  });

  test("typed image URIs: pinned by digest where one is known", () => {
    expect(registry.images.nvidiaDevicePlugin.imageUri).toMatch(/^\$\{TfToken\[TOKEN\.\d+\]\}@sha256:[0-9a-f]{64}$/);
    expect(registry.images.inferenceServer.imageUri).toMatch(/:0\.\d+\.\d+$/);
    expect(registry.images.clusterAutoscaler.tag).toBe("v1.35.2");
  });

  test("the mirror manifest pins upstream images and is written next to the stack", () => {
    const plugin = registry.mirrorManifest.images.find((i) => i.name === "nvidiaDevicePlugin")!;
    expect(plugin).toMatchObject({
      source: `nvcr.io/nvidia/k8s-device-plugin:v0.17.1@${IMAGES.nvidiaDevicePlugin.digest}`,
      repository: "voice-selfhost/nvidia/k8s-device-plugin",
      tag: "v0.17.1",
    });
    for (const image of registry.mirrorManifest.images) {
      expect(image.source === null ? image.build : image.digest ?? image.note).toBeTruthy();
      if (image.digest) expect(image.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    const app = Testing.app();
    const stack = new TerraformStack(app, "mirror-test");
    new AwsProvider(stack, "aws", { region: "eu-west-1" });
    new PrivateRegistry(stack, "registry", { network: fakeNetwork("airgapped"), pullerRoleArns: [NODE_ROLE] });
    app.synth();
    const written = JSON.parse(fs.readFileSync(path.join(app.outdir, "stacks", "mirror-test", "mirror-manifest.json"), "utf8"));
    expect(written.mode).toBe("airgapped");
    expect(written.images.map((i: { name: string }) => i.name)).toEqual(Object.keys(IMAGES));
  });
});

describe("PrivateRegistry in air-gapped mode", () => {
  test("pulls only through the ECR endpoints, but for Amazon Inspector, which scans from inside AWS; no pull-through caches", () => {
    const { json } = synthRegistry("airgapped");
    const policy = policyStatements(json, Object.values(resources(json, "aws_ecr_repository_policy"))[0].policy);
    expect(policy.DenyPullsOutsideVpcEndpoints).toEqual({
      Sid: "DenyPullsOutsideVpcEndpoints",
      Effect: "Deny",
      Principal: "*",
      Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
      Condition: { StringNotEquals: { "aws:sourceVpce": ["vpce-ecrapi", "vpce-ecrdkr"] }, ArnNotEquals: { "aws:PrincipalArn": [INSPECTOR] } },
    });
    expect(resources(json, "aws_ecr_pull_through_cache_rule")).toEqual({});
  });

  test("refuses a network that does not expose its ECR endpoints, and bad props", () => {
    const { stack } = testStack();
    expect(() => new PrivateRegistry(stack, "r1", { network: fakeNetwork("airgapped", { interfaceEndpointIds: {} }), pullerRoleArns: [NODE_ROLE] })).toThrow(
      /must expose its ecr.api and ecr.dkr endpoint ids/,
    );
    expect(() => new PrivateRegistry(stack, "r3", { network: fakeNetwork(), pullerRoleArns: [NODE_ROLE], repositoryPrefix: "Bad Prefix" })).toThrow(/repositoryPrefix/);
  });
});

test("grantPull: each role granted may pull, nobody else; a registry nobody may pull from fails synth", () => {
  const { stack } = testStack();
  const registry = new PrivateRegistry(stack, "registry", { network: fakeNetwork() });
  registry.grantPull(NODE_ROLE);
  registry.grantPull({ arn: "arn:aws:iam::111122223333:role/other-nodes" });
  const json = synthJson(stack);
  const bySid = policyStatements(json, Object.values(resources(json, "aws_ecr_repository_policy"))[0].policy);
  expect(bySid.NodesPull.Principal).toEqual({ AWS: [NODE_ROLE, "arn:aws:iam::111122223333:role/other-nodes"] });
  expect(bySid.DenyPullsByOthers.Condition).toEqual({ ArnNotEquals: { "aws:PrincipalArn": [NODE_ROLE, "arn:aws:iam::111122223333:role/other-nodes", INSPECTOR] } });

  const empty = testStack().stack;
  new PrivateRegistry(empty, "registry", { network: fakeNetwork() });
  expect(() => Testing.synth(empty, true)).toThrow(/no puller: call grantPull\(role\)/);
});

test("grantMirror: the mirror role pushes and reads back every image, past both pull denies' principal check", () => {
  const { stack } = testStack();
  const registry = new PrivateRegistry(stack, "registry", { network: fakeNetwork("airgapped"), pullerRoleArns: [NODE_ROLE] });
  registry.grantMirror(MIRROR_ROLE);
  registry.grantMirror({ arn: MIRROR_ROLE });
  const json = synthJson(stack);
  const bySid = policyStatements(json, Object.values(resources(json, "aws_ecr_repository_policy"))[0].policy);
  expect(bySid.MirrorsPushAndVerify).toMatchObject({ Effect: "Allow", Principal: { AWS: [MIRROR_ROLE] } });
  expect(bySid.MirrorsPushAndVerify.Action).toEqual(expect.arrayContaining(["ecr:PutImage", "ecr:CompleteLayerUpload", "ecr:BatchGetImage"]));
  expect(bySid.DenyPullsByOthers.Condition).toEqual({ ArnNotEquals: { "aws:PrincipalArn": [NODE_ROLE, MIRROR_ROLE, INSPECTOR] } });
  // Air-gapped, the mirror's reads still come through the VPC's ECR endpoints: only Inspector is exempt from that deny.
  expect(bySid.DenyPullsOutsideVpcEndpoints.Condition?.ArnNotEquals).toEqual({ "aws:PrincipalArn": [INSPECTOR] });
});

test("AirGappedRegistry, the deprecated name, is PrivateRegistry", () => {
  const { stack } = testStack();
  const registry = new AirGappedRegistry(stack, "registry", { network: fakeNetwork(), pullerRoleArns: [NODE_ROLE] });
  expect(registry).toBeInstanceOf(PrivateRegistry);
  expect(policyStatements(synthJson(stack), Object.values(resources(synthJson(stack), "aws_ecr_repository_policy"))[0].policy).NodesPull.Principal).toEqual({ AWS: [NODE_ROLE] });
});
