/**
 * EKS versions age: the dated version table is checked at synth (the date injected here), the
 * upgrade policy is explicit, and what a cluster runs (add-ons, node AMIs, the autoscaler) is pinned
 * per minor from the same table, overridable per environment.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TerraformStack, Testing } from "cdktf";
import { ConfigError, EnvironmentInput, parseEnvironment } from "../../app";
import { checkVersionSupport, DEFAULT_KUBERNETES_VERSION, EKS_ADDONS, EKS_VERSIONS, GpuCluster } from "../../constructs/cluster";
import { PrivateRegistry } from "../../constructs/registry";
import { ClusterAutoscaler } from "../../constructs/workloads/cluster-autoscaler";
import { buildApp } from "../../main";
import { fakeNetwork, resources, synthJson, testStack } from "../support/synth";

const day = (iso: string) => new Date(`${iso}T12:00:00Z`);
const TODAY = day("2026-12-07");

describe("the version table", () => {
  test("every entry's dates are in order, and the default minor has every pin", () => {
    for (const [version, entry] of Object.entries(EKS_VERSIONS)) {
      expect({ version, ordered: entry.released < entry.standardSupportEnds && entry.standardSupportEnds < entry.extendedSupportEnds }).toEqual({ version, ordered: true });
    }
    const pins = EKS_VERSIONS[DEFAULT_KUBERNETES_VERSION].pins!;
    expect(Object.keys(pins.addons).sort()).toEqual([...EKS_ADDONS].sort());
    expect(pins.amiReleaseVersions.AL2023).toMatch(new RegExp(`^${DEFAULT_KUBERNETES_VERSION.replace(".", "\\.")}\\.\\d+-\\d{8}$`));
    expect(pins.clusterAutoscaler.tag).toMatch(new RegExp(`^v${DEFAULT_KUBERNETES_VERSION.replace(".", "\\.")}\\.\\d+$`));
  });

  test("the default minor is in standard support on 2026-12-07", () => {
    expect(checkVersionSupport(DEFAULT_KUBERNETES_VERSION, "STANDARD", TODAY)).toEqual({});
  });

  test.each([
    ["1.34", "STANDARD", "2026-12-07", /^expected a version in standard support on 2026-12-07; 1\.34 left standard support on 2026-12-02/],
    ["1.31", "STANDARD", "2026-12-07", /^expected a version EKS still supports on 2026-12-07; 1\.31 reached the end of extended support on 2026-11-26/],
    ["1.31", "EXTENDED", "2026-12-07", /end of extended support on 2026-11-26/],
    ["1.36", "STANDARD", "2026-12-07", /^expected a Kubernetes minor in the EKS version table \(.*\), found "1\.36"/],
    ["1.35", "STANDARD", "2026-01-01", /^expected a version EKS offers on 2026-01-01; 1\.35 is released on EKS on 2026-01-28/],
  ])("%s with supportType %s on %s is refused", (version, supportType, date, message) => {
    expect(checkVersionSupport(version, supportType as "STANDARD" | "EXTENDED", day(date)).error).toMatch(message);
  });

  test("extended support is allowed only when the file says EXTENDED, and then warns of the bill", () => {
    expect(checkVersionSupport("1.34", "EXTENDED", TODAY)).toEqual({ warning: expect.stringMatching(/^1\.34 is in extended support since 2026-12-02 \(billed at the extended rate until 2027-12-02\)/) });
  });

  test("60 days before the end of standard support, synth warns that an upgrade is due", () => {
    expect(checkVersionSupport("1.35", "STANDARD", day("2027-02-01"))).toEqual({ warning: "1.35 leaves standard support on 2027-03-27 (in 54 days): plan the upgrade to the next minor" });
    expect(checkVersionSupport("1.35", "STANDARD", day("2027-01-20"))).toEqual({});
  });
});

function synthCluster(props: Partial<ConstructorParameters<typeof GpuCluster>[2]> = {}) {
  const { stack } = testStack();
  new GpuCluster(stack, "c", { network: fakeNetwork(), supportCheckDate: TODAY, ...props });
  return synthJson(stack);
}

describe("GpuCluster", () => {
  const json = synthCluster();
  const eks = Object.values(resources(json, "aws_eks_cluster"))[0] as Record<string, any>;
  const pins = EKS_VERSIONS[DEFAULT_KUBERNETES_VERSION].pins!;

  test("creates the default minor with the upgrade policy set explicitly (STANDARD)", () => {
    expect(eks.version).toBe(DEFAULT_KUBERNETES_VERSION);
    expect(eks.upgrade_policy).toEqual({ support_type: "STANDARD" });
  });

  test("pins every managed add-on to the table's version", () => {
    const addons = Object.values(resources(json, "aws_eks_addon")).map((a) => [a.addon_name, a.addon_version]);
    expect(Object.fromEntries(addons)).toEqual(pins.addons);
  });

  test("pins every node group to the table's AMI release", () => {
    const releases = Object.values(resources(json, "aws_eks_node_group")).map((g) => g.release_version);
    // The GPU pool and the system pool's three zone groups.
    expect(releases).toEqual(Array(4).fill(pins.amiReleaseVersions.AL2023));
  });

  test("the settings override add-on and AMI versions, and the upgrade policy", () => {
    const custom = synthCluster({
      supportType: "EXTENDED",
      addonVersions: { coredns: "v1.13.1-eksbuild.3" },
      systemPool: { amiReleaseVersion: "1.35.2-20260304" },
      gpuPools: [{ name: "gpu", instanceTypes: ["g5.xlarge"], minSize: 0, maxSize: 2, amiType: "BOTTLEROCKET_x86_64_NVIDIA", amiReleaseVersion: "1.41.0-8f5e6c0e" }],
    });
    expect((Object.values(resources(custom, "aws_eks_cluster"))[0] as Record<string, any>).upgrade_policy).toEqual({ support_type: "EXTENDED" });
    const coredns = Object.values(resources(custom, "aws_eks_addon")).find((a) => a.addon_name === "coredns")!;
    expect(coredns.addon_version).toBe("v1.13.1-eksbuild.3");
    expect(Object.values(resources(custom, "aws_eks_node_group")).map((g) => g.release_version).sort()).toEqual([...Array(3).fill("1.35.2-20260304"), "1.41.0-8f5e6c0e"]);
  });

  test.each([
    ["a version out of standard support on the check date", { kubernetesVersion: "1.34" }, /kubernetesVersion: expected a version in standard support on 2026-12-07; 1\.34 left standard support on 2026-12-02/],
    ["an AL2023 release of another minor", { systemPool: { amiReleaseVersion: "1.34.7-20260512" } }, /systemPool: amiReleaseVersion: expected an AL2023 release of Kubernetes 1\.35, found "1\.34\.7-20260512"/],
    ["a malformed add-on version", { addonVersions: { "vpc-cni": "latest" } }, /addonVersions\.vpc-cni: expected an EKS add-on version like v1\.21\.1-eksbuild\.3/],
  ])("refuses %s at synth", (_name, props, message) => {
    expect(() => synthCluster(props)).toThrow(message);
  });

  test("a Bottlerocket pool with no release of its own (the table pins none) is left to EKS, with a synth warning that says how to pin it", () => {
    const { stack } = testStack();
    new GpuCluster(stack, "c", { network: fakeNetwork(), supportCheckDate: TODAY, gpuPools: [{ name: "gpu", instanceTypes: ["g5.xlarge"], minSize: 0, maxSize: 2, amiType: "BOTTLEROCKET_x86_64_NVIDIA" }] });
    const groups = Object.values(resources(synthJson(stack), "aws_eks_node_group"));
    expect(groups.map((g) => g.release_version ?? null).sort()).toEqual([...Array(3).fill(pins.amiReleaseVersions.AL2023), null].sort());
    const warnings = stack.node.findAll().flatMap((c) => c.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data)));
    expect(warnings).toEqual([expect.stringMatching(/gpuPools\[0\] \(gpu\): amiReleaseVersion: not pinned, .*aws ssm get-parameter --name \/aws\/service\/bottlerocket\/aws-k8s-1\.35-nvidia\/x86_64\/latest\/image_version/)]);
  });

  test("the check date is injectable: the same version passes while it was in standard support", () => {
    const json34 = synthCluster({ kubernetesVersion: "1.34", supportCheckDate: day("2026-06-01"), addonVersions: pins.addons, systemPool: { amiReleaseVersion: "1.34.7-20260512" }, gpuPools: [{ name: "gpu", instanceTypes: ["g5.xlarge"], minSize: 0, maxSize: 2, amiReleaseVersion: "1.34.7-20260512" }] });
    expect((Object.values(resources(json34, "aws_eks_cluster"))[0] as Record<string, any>).version).toBe("1.34");
  });

  test("a version with no pins in the table needs every add-on pinned by the caller", () => {
    expect(() => synthCluster({ kubernetesVersion: "1.34", supportCheckDate: day("2026-06-01") })).toThrow(/addonVersions\.vpc-cni: expected a version for Kubernetes 1\.34 \(the version table has none/);
  });
});

describe("the cluster autoscaler's minor is the cluster's", () => {
  test("the registry mirrors the table's autoscaler for the cluster's minor", () => {
    const { stack } = testStack();
    const registry = new PrivateRegistry(stack, "r", { network: fakeNetwork(), kubernetesVersion: "1.35" });
    expect(registry.images.clusterAutoscaler.tag).toBe(EKS_VERSIONS["1.35"].pins!.clusterAutoscaler.tag);
    expect(registry.images.clusterAutoscaler.digest).toBe(EKS_VERSIONS["1.35"].pins!.clusterAutoscaler.digest);
    expect(() => new PrivateRegistry(stack, "r2", { network: fakeNetwork(), kubernetesVersion: "1.34" })).toThrow(/kubernetesVersion: expected a Kubernetes minor with a cluster autoscaler in the EKS version table/);
  });

  test("ClusterAutoscaler refuses an image tag of another minor", () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, "w");
    const cluster = { name: "c", network: fakeNetwork(), serviceCidr: "172.20.0.0/16", kubernetesVersion: "1.35" };
    expect(() => new ClusterAutoscaler(stack, "ca", { image: "registry.example/cluster-autoscaler:v1.31.5", cluster, region: "eu-west-1" })).toThrow(
      /image: expected a cluster-autoscaler of the cluster's minor 1\.35, found 1\.31/,
    );
    expect(() => new ClusterAutoscaler(stack, "ca2", { image: "registry.example/cluster-autoscaler:v1.35.2", cluster, region: "eu-west-1" })).not.toThrow();
  });
});

describe("the environments", () => {
  const root = path.resolve(__dirname, "../..");
  const document = (name: string) => JSON.parse(fs.readFileSync(path.join(root, "environments", `${name}.json`), "utf8")) as EnvironmentInput;
  let outdir: string;
  beforeEach(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), "versions-"));
  });
  afterEach(() => fs.rmSync(outdir, { recursive: true, force: true }));

  test.each(["dev", "staging", "prod", "airgapped"])("%s runs a minor in standard support on 2026-12-07, with the autoscaler of that minor", (name) => {
    const env = parseEnvironment(document(name), `environments/${name}.json`);
    expect(checkVersionSupport(env.kubernetesVersion, env.cluster.supportType, TODAY)).toEqual({});
    buildApp({ outdir, environments: [env], synthDate: TODAY }).synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", `${name}-infra`, "mirror-manifest.json"), "utf8")) as { images: { name: string; tag: string }[] };
    expect(manifest.images.find((i) => i.name === "clusterAutoscaler")?.tag).toMatch(new RegExp(`^v${env.kubernetesVersion.replace(".", "\\.")}\\.`));
  });

  test("a version out of standard support on the synth date is a synth error naming the file and field", () => {
    const env = parseEnvironment({ ...document("prod"), kubernetesVersion: "1.34" }, "environments/prod.json");
    let problems: string[] = [];
    try {
      buildApp({ outdir, environments: [env], synthDate: TODAY });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^environments\/prod\.json: field "kubernetesVersion": expected a version in standard support on 2026-12-07; 1\.34 left standard support on 2026-12-02: .*, found "1\.34"$/),
    ]);
  });
});
