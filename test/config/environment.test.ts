import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TerraformStack, Testing } from "cdktf";
import { ConfigError, loadEnvironmentFile, loadEnvironments, parseEnvironment } from "../../app";
import { GpuCluster, GpuClusterProps } from "../../constructs/cluster";
import { InternalLoadBalancer, InternalLoadBalancerProps } from "../../constructs/ingress";
import { PrivateNetwork } from "../../constructs/network";
import { setKeyAccess } from "../../constructs/shared";
import { fakeNetwork } from "../support/synth";

const fixtures = path.join(__dirname, "..", "fixtures", "config");
const invalid = (name: string) => path.join(fixtures, "invalid", `${name}.json`);

/** The message a bad file produces; fails the test if the file loads. */
function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected the configuration to be rejected");
}

describe("environment files", () => {
  test("the repository's environments all load and do not overlap", () => {
    const envs = loadEnvironments(path.join(__dirname, "..", "..", "environments"));
    expect(envs.map((e) => e.name)).toEqual(["airgapped", "dev", "prod", "staging"]);
    const airgapped = envs.find((e) => e.name === "airgapped")!;
    expect(airgapped.mode).toBe("airgapped");
    expect(airgapped.license.mode).toBe("offline");
  });

  test("a minimal file gets the secure, production-minded defaults", () => {
    const env = loadEnvironmentFile(path.join(fixtures, "valid", "minimal.json"));
    expect(env.natGateways).toBe("perAz");
    expect(env.kubernetesVersion).toBe("1.35");
    expect(env.nodePools.system).toEqual({ instanceTypes: ["m6i.large"], capacityType: "ON_DEMAND", minSize: 2, maxSize: 4, diskSizeGiB: 50 });
    expect(env.nodePools.gpu[0]).toMatchObject({ capacityType: "ON_DEMAND", amiType: "AL2023_x86_64_NVIDIA", diskSizeGiB: 200 });
    expect(env.cluster.publicEndpoint).toEqual({ enabled: false, cidrs: [] });
    expect(env.cluster.serviceCidr).toBe("172.20.0.0/16");
    expect(env.ingress).toMatchObject({ plainTcp: false, port: 443 });
    expect(env.deletionProtection).toBe(true);
    expect(env.flowLogRetentionDays).toBe(365);
    expect(env.stateBackend).toEqual({ type: "s3", bucket: "voice-selfhost-tfstate-111122223333", key: "voice-selfhost/minimal", region: "eu-west-1", useLockfile: true });
    expect(env.tags).toEqual({});
  });

  // Each bad file names the file, the field path, what was expected and what was found.
  test.each([
    ["wrong-type", 'field "vpcCidr": expected string, found 42'],
    ["unknown-key", 'field "(top level)": unknown key(s) "natGateway"; expected only the documented keys (typo?)'],
    ["malformed-cidr", 'field "vpcCidr": expected an IPv4 CIDR with no host bits set, like 10.20.0.0/16, found "10.50.0.0/33"'],
    ["service-overlap", 'field "cluster.serviceCidr": expected a CIDR that does not overlap vpcCidr 10.50.0.0/16, found "10.50.128.0/20"'],
    ["one-az", 'field "availabilityZones": expected at least 2 item(s), found ["eu-west-1a"]'],
    ["gpu-max-below-min", 'field "nodePools.gpu[0].maxSize": expected maxSize >= minSize (3), found 1'],
    ["airgapped-online", 'field "license.mode": expected "offline" in airgapped mode: there is no route to a license server, found "online"'],
    ["bad-retention", 'field "flowLogRetentionDays": expected one of CloudWatch Logs\' retention periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), found 100'],
  ])("%s is rejected with a message naming the file and the field", (name, message) => {
    const file = invalid(name);
    expect(problemsOf(() => loadEnvironmentFile(file))).toEqual([`${file}: ${message}`]);
  });

  describe("a directory of environments", () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "envs-"));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const write = (name: string, edit: (doc: Record<string, unknown>) => void) => {
      const doc = JSON.parse(fs.readFileSync(path.join(fixtures, "valid", "minimal.json"), "utf8")) as Record<string, unknown>;
      doc.name = name;
      edit(doc);
      fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(doc));
      return path.join(dir, `${name}.json`);
    };

    test("VPC CIDRs overlapping across two files are rejected, naming both", () => {
      const first = write("alpha", (d) => (d.vpcCidr = "10.60.0.0/16"));
      const second = write("beta", (d) => (d.vpcCidr = "10.60.128.0/20"));
      expect(problemsOf(() => loadEnvironments(dir))).toEqual([
        `${second}: field "vpcCidr": expected a CIDR that does not overlap ${first} (10.60.0.0/16), found 10.60.128.0/20`,
      ]);
    });

    test("every problem of every file is reported in one run", () => {
      const typo = write("alpha", (d) => (d.regoin = "eu-west-1"));
      const wrongName = write("beta", (d) => (d.name = "gamma"));
      expect(problemsOf(() => loadEnvironments(dir))).toEqual([
        `${typo}: field "(top level)": unknown key(s) "regoin"; expected only the documented keys (typo?)`,
        `${wrongName}: field "name": expected "beta" (the file name), found "gamma"`,
      ]);
    });

    test("an empty directory is an error, not an empty app", () => {
      expect(problemsOf(() => loadEnvironments(dir))).toEqual([`${dir}: expected at least one environment file (*.json), found none`]);
    });

    test("a file that is not JSON names the file", () => {
      fs.writeFileSync(path.join(dir, "broken.json"), "{ name: ");
      const [problem] = problemsOf(() => loadEnvironments(dir));
      expect(problem).toMatch(new RegExp(`^${path.join(dir, "broken.json").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: expected valid JSON, found a syntax error`));
    });
  });
});

describe("one definition of each setting: the environment file and the constructs refuse the same things, with the same words", () => {
  const minimal = JSON.parse(fs.readFileSync(path.join(__dirname, "../fixtures/config/valid/minimal.json"), "utf8")) as Record<string, any>;
  const fileProblem = (patch: (env: Record<string, any>) => void): string => {
    const env = JSON.parse(JSON.stringify(minimal)) as Record<string, any>;
    patch(env);
    try {
      parseEnvironment(env, "minimal.json");
    } catch (err) {
      return (err as ConfigError).problems.join("\n");
    }
    return "accepted";
  };
  const constructProblem = (build: (stack: TerraformStack) => void): string => {
    try {
      build(new TerraformStack(Testing.app(), "t"));
    } catch (err) {
      return (err as Error).message;
    }
    return "accepted";
  };
  const network = fakeNetwork("connected", { vpcCidr: "10.50.0.0/16" });

  test.each([
    ["a GPU pool named like the system pool", (env: Record<string, any>) => (env.nodePools.gpu[0].name = "system"), { gpuPools: [{ name: "system", instanceTypes: ["g5.xlarge"], minSize: 0, maxSize: 1 }] }, 'expected a name other than "system"'],
    ["desiredSize outside the pool's sizes", (env: Record<string, any>) => (env.nodePools.gpu[0].desiredSize = 5), { gpuPools: [{ name: "gpu-a10g", instanceTypes: ["g5.xlarge"], minSize: 0, maxSize: 2, desiredSize: 5 }] }, "expected desiredSize between minSize (0) and maxSize (2)"],
    ["a service CIDR inside the VPC", (env: Record<string, any>) => (env.cluster = { serviceCidr: "10.50.128.0/20" }), { serviceCidr: "10.50.128.0/20" }, "expected a CIDR that does not overlap vpcCidr 10.50.0.0/16"],
    ["a public endpoint open to everyone", (env: Record<string, any>) => ((env.mode = "connected"), (env.cluster = { publicEndpoint: { enabled: true, cidrs: ["0.0.0.0/0"] } })), { publicEndpoint: { enabled: true, cidrs: ["0.0.0.0/0"] } }, "expected a CIDR narrower than 0.0.0.0/0"],
    [
      "a GPU pool mixing instance shapes (staging's g6.xlarge with g6.2xlarge, before 0.2.0)",
      (env: Record<string, any>) => (env.nodePools.gpu[0].instanceTypes = ["g6.xlarge", "g6.2xlarge"]),
      { gpuPools: [{ name: "gpu-l4", instanceTypes: ["g6.xlarge", "g6.2xlarge"], minSize: 0, maxSize: 2 }] },
      "expected the shape of g6.xlarge (4 vCPU, 16 GiB, 1x L4): the autoscaler sizes scale-from-zero nodes from a pool's first type, and g6.2xlarge has 8 vCPU, 32 GiB, 1x L4; put it in a pool of its own",
    ],
    ["a Kubernetes version that is not a minor version", (env: Record<string, any>) => (env.kubernetesVersion = "1.31.2"), { kubernetesVersion: "1.31.2" }, "expected a Kubernetes minor version like 1.35"],
  ] as [string, (env: Record<string, any>) => void, Partial<GpuClusterProps>, string][])("%s", (_, patch, props, message) => {
    expect(fileProblem(patch)).toContain(message);
    expect(constructProblem((stack) => new GpuCluster(stack, "c", { network, ...props }))).toContain(message);
  });

  test("an open client CIDR and a TLS listener without a certificate: refused by the file and by InternalLoadBalancer alike", () => {
    const lb = (props: Partial<InternalLoadBalancerProps>) => (stack: TerraformStack) =>
      new InternalLoadBalancer(stack, "lb", { network, allowedClientCidrs: ["10.0.0.0/8"], targets: { autoScalingGroupNames: ["asg"], nodeSecurityGroupId: "sg-nodes" }, certificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/x", ...props });
    const open = "expected a CIDR narrower than 0.0.0.0/0: it would admit anyone";
    expect(fileProblem((env) => (env.allowedClientCidrs = ["0.0.0.0/0"]))).toContain(open);
    expect(constructProblem(lb({ allowedClientCidrs: ["0.0.0.0/0"] }))).toContain(open);
    const noCertificate = "expected an ACM certificate ARN for the TLS listener (or plainTcp: true, for dev only)";
    expect(fileProblem((env) => delete env.ingress)).toContain(noCertificate);
    expect(constructProblem(lb({ certificateArn: undefined }))).toContain(noCertificate);
  });

  test("key administrators who are also users, and an organisation id that is not one: refused by the file and by setKeyAccess or PrivateNetwork alike", () => {
    const admin = "arn:aws:iam::111122223333:role/voice-selfhost-deploy";
    const overlap = `expected a principal apart from the administrators (separation of duties); ${admin} is in both`;
    expect(fileProblem((env) => (env.keys = { administrators: [admin], users: [admin] }))).toContain(`field "keys.users[0]": ${overlap}`);
    expect(constructProblem((stack) => setKeyAccess(stack, { administrators: [admin], users: [admin] }))).toContain(overlap);
    const organisation = "expected an AWS Organizations id like o-a1b2c3d4e5";
    expect(fileProblem((env) => (env.perimeter = { organizationId: "111122223333" }))).toContain(`field "perimeter.organizationId": ${organisation}`);
    expect(constructProblem((stack) => new PrivateNetwork(stack, "n", { cidr: "10.50.0.0/16", azs: ["eu-west-1a", "eu-west-1b"], mode: "airgapped", organizationId: "111122223333" }))).toContain(
      organisation,
    );
    expect(fileProblem((env) => (env.registry = { mirrorRoleArn: "image-mirror" }))).toContain('field "registry.mirrorRoleArn": expected an IAM role or user ARN');
  });

  test("a certificate from another region than the environment's is refused, naming the field", () => {
    expect(fileProblem((env) => (env.ingress = { certificateArn: "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000001" }))).toContain(
      'field "ingress.certificateArn": expected an ACM certificate in eu-west-1, the load balancer\'s region (a listener takes certificates of its own region only), found one in us-east-1',
    );
    expect(fileProblem((env) => (env.ingress = { certificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000001" }))).toBe("accepted");
  });

  test("a VPC of /23: refused by the file and by PrivateNetwork alike", () => {
    const message = "expected a prefix between /16 and /22";
    expect(fileProblem((env) => (env.vpcCidr = "10.50.0.0/23"))).toContain(message);
    expect(constructProblem((stack) => new PrivateNetwork(stack, "n", { cidr: "10.50.0.0/23", azs: ["eu-west-1a", "eu-west-1b"], mode: "airgapped" }))).toContain(message);
  });
});
