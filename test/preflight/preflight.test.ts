/**
 * The pre-flight: offline checks of the environment file (placeholders, the certificate's region,
 * the offline offering table), and the live checks with every AWS SDK client's `send` replaced at
 * the client boundary by a stand-in that answers as AWS documents each call (no network, no
 * credentials). The compiled command's exit codes are checked by running it.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { DescribeCertificateCommand } from "@aws-sdk/client-acm";
import { DescribeInstanceTypeOfferingsCommand } from "@aws-sdk/client-ec2";
import { GetBucketVersioningCommand, HeadBucketCommand } from "@aws-sdk/client-s3";
import { GetServiceQuotaCommand } from "@aws-sdk/client-service-quotas";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { EnvironmentConfig, EnvironmentInput, parseEnvironment } from "../../app";
import { offlineFindings } from "../../scripts/preflight/offline";
import { AwsClients, GPU_QUOTAS } from "../../scripts/preflight/online";
import { parsePreflightArgs, preflight } from "../../scripts/preflight";

const root = path.resolve(__dirname, "../..");
const document = (name: string) => JSON.parse(fs.readFileSync(path.join(root, "environments", `${name}.json`), "utf8")) as EnvironmentInput & Record<string, any>;
const ACCOUNT = "480123456789";
const CERTIFICATE = `arn:aws:acm:eu-west-1:${ACCOUNT}:certificate/6f0a4b1e-6a7c-4d35-9a1f-2c1d3e4f5a6b`;

/** prod with the placeholders replaced by values a real account could hold. */
function realProd(overrides: Record<string, unknown> = {}): EnvironmentConfig {
  const doc = document("prod");
  return parseEnvironment(
    {
      ...doc,
      license: { ...doc.license, serverUrl: "https://license.vendor.com", serverCidrs: ["52.18.0.0/24"] },
      cluster: { ...doc.cluster, adminPrincipalArns: [`arn:aws:iam::${ACCOUNT}:role/platform-admin`] },
      ingress: { certificateArn: CERTIFICATE },
      stateBackend: { ...doc.stateBackend, bucket: `voice-selfhost-tfstate-${ACCOUNT}` },
      perimeter: { organizationId: "o-k3v8x2m9q4" },
      keys: { administrators: [`arn:aws:iam::${ACCOUNT}:role/key-admin`, `arn:aws:iam::${ACCOUNT}:role/voice-selfhost-deploy`], users: [`arn:aws:iam::${ACCOUNT}:role/model-publisher`] },
      registry: { mirrorRoleArn: `arn:aws:iam::${ACCOUNT}:role/image-mirror` },
      ...overrides,
    },
    "environments/prod.json",
  );
}

describe("offline", () => {
  test("the shipped prod file: every placeholder is a finding naming its field", () => {
    const findings = offlineFindings(parseEnvironment(document("prod"), "environments/prod.json"));
    expect(findings.filter((f) => f.severity === "error").map((f) => f.field).sort()).toEqual(
      [
        "cluster.adminPrincipalArns[0]",
        "ingress.certificateArn",
        "ingress.certificateArn",
        "keys.administrators[0]",
        "keys.administrators[1]",
        "keys.users[0]",
        "license.serverCidrs[0]",
        "license.serverUrl",
        "perimeter.organizationId",
        "registry.mirrorRoleArn",
        "stateBackend.bucket",
      ].sort(),
    );
    expect(findings.find((f) => f.field === "ingress.certificateArn" && /certificate id/.test(f.message))?.message).toContain("00000000-0000-0000-0000-000000000003 is a placeholder");
  });

  test("a file with real-looking values has none", () => {
    expect(offlineFindings(realProd())).toEqual([]);
  });

  test("any twelve identical digits is a placeholder account too", () => {
    const findings = offlineFindings(realProd({ cluster: { adminPrincipalArns: ["arn:aws:iam::000000000000:role/admin"], apiAccess: { cidrs: ["10.200.0.0/22"] } } }));
    expect(findings.map((f) => [f.field, f.message])).toEqual([["cluster.adminPrincipalArns[0]", expect.stringMatching(/^account 000000000000 is a documentation placeholder/)]]);
  });

  test("a GPU type the offline table does not place in the region is unknown offline (the live check decides), never refused offline", () => {
    const doc = document("prod");
    const env = realProd({ nodePools: { ...doc.nodePools, gpu: [{ name: "h100", instanceTypes: ["p5.48xlarge"], minSize: 0, maxSize: 1 }] }, policy: undefined });
    expect(offlineFindings(env)).toEqual([
      { check: "offering", severity: "unknown", field: "nodePools.gpu[0].instanceTypes[0]", message: expect.stringMatching(/^p5\.48xlarge in eu-west-1: not in the offline table \(AWS pricing pages as of \d{4}-\d{2}-\d{2}\); the live check/) },
    ]);
  });
});

/** AWS as each read-only call answers, by command; `overrides` change one answer (a value, or an error to throw). */
function fakeAws(overrides: Partial<Record<string, unknown>> = {}, zonesLacking: Record<string, string[]> = {}) {
  const env = realProd();
  const calls: string[] = [];
  const answer = (name: string, fallback: () => unknown) => {
    calls.push(name);
    if (!(name in overrides)) return fallback();
    const value = overrides[name];
    if (value instanceof Error) throw value;
    return value;
  };
  const send = async (command: unknown): Promise<any> => {
    if (command instanceof GetCallerIdentityCommand) return answer("GetCallerIdentity", () => ({ Account: ACCOUNT }));
    if (command instanceof DescribeInstanceTypeOfferingsCommand) {
      const filters = Object.fromEntries((command.input.Filters ?? []).map((f) => [f.Name, f.Values ?? []]));
      return answer("DescribeInstanceTypeOfferings", () => ({
        InstanceTypeOfferings: filters["instance-type"].flatMap((type: string) =>
          filters.location.filter((zone: string) => !(zonesLacking[type] ?? []).includes(zone)).map((zone: string) => ({ InstanceType: type, Location: zone, LocationType: "availability-zone" })),
        ),
      }));
    }
    if (command instanceof GetServiceQuotaCommand) return answer(`GetServiceQuota ${command.input.QuotaCode}`, () => ({ Quota: { QuotaCode: command.input.QuotaCode, Value: 512 } }));
    if (command instanceof DescribeCertificateCommand) return answer("DescribeCertificate", () => ({ Certificate: { CertificateArn: command.input.CertificateArn, Status: "ISSUED" } }));
    if (command instanceof HeadBucketCommand) return answer("HeadBucket", () => ({}));
    if (command instanceof GetBucketVersioningCommand) return answer("GetBucketVersioning", () => ({ Status: "Enabled" }));
    throw new Error(`unexpected command ${(command as object).constructor.name}`);
  };
  const clients: AwsClients = { sts: { send }, ec2: { send }, quotas: { send }, acm: { send }, s3: { send } } as unknown as AwsClients;
  return { env, clients, calls };
}

const awsError = (name: string, status?: number) => Object.assign(new Error(`${name} from AWS`), { name, $metadata: { httpStatusCode: status } });

describe("live checks (AWS SDK clients' send stood in for at the client boundary)", () => {
  test("an account that offers, allows and holds everything: nothing refused, exit 0, every read-only call made", async () => {
    const { env, clients, calls } = fakeAws();
    const result = await preflight(env, { offline: false, clients });
    expect(result.findings).toEqual([]);
    expect(result.exitCode).toBe(0);
    // prod: G on-demand (gpu-a10g) and G spot (gpu-l40s) quotas; no P pools.
    expect(calls).toEqual(["GetCallerIdentity", "DescribeInstanceTypeOfferings", "GetServiceQuota L-DB2E81BA", "GetServiceQuota L-3819A6DF", "DescribeCertificate", "HeadBucket", "GetBucketVersioning"]);
  });

  test.each([
    ["a GPU type missing in one chosen zone", {}, { "g6e.2xlarge": ["eu-west-1b"] }, "offering", "nodePools.gpu[1].instanceTypes[0]", /g6e\.2xlarge is not offered in eu-west-1b \(this account's zones\)/],
    ["a G on-demand quota below what the pools need at maxSize", { "GetServiceQuota L-DB2E81BA": { Quota: { Value: 64 } } }, {}, "quota", "nodePools.gpu (gpu-a10g)", /run 96 vCPUs of On-Demand g instances, but the quota "Running On-Demand G and VT instances" \(L-DB2E81BA\) is 64/],
    ["a certificate still pending validation", { DescribeCertificate: { Certificate: { Status: "PENDING_VALIDATION" } } }, {}, "certificate", "ingress.certificateArn", /the certificate is PENDING_VALIDATION, not ISSUED/],
    ["a certificate ACM does not hold in the region", { DescribeCertificate: awsError("ResourceNotFoundException", 400) }, {}, "certificate", "ingress.certificateArn", /ACM in eu-west-1 has no such certificate/],
    ["no state bucket", { HeadBucket: awsError("NotFound", 404) }, {}, "state", "stateBackend.bucket", /does not exist: create it/],
    ["a state bucket without versioning", { GetBucketVersioning: { Status: "Suspended" } }, {}, "state", "stateBackend.bucket", /has versioning Suspended/],
  ])("%s is refused (exit 1)", async (_name, overrides, zonesLacking, check, field, message) => {
    const { env, clients } = fakeAws(overrides, zonesLacking);
    const result = await preflight(env, { offline: false, clients });
    expect(result.findings).toEqual([expect.objectContaining({ check, field, severity: "error", message: expect.stringMatching(message) })]);
    expect(result.exitCode).toBe(1);
  });

  test("credentials for another account than the file names are refused, once per field that names it", async () => {
    const { env, clients } = fakeAws({ GetCallerIdentity: { Account: "480999999999" } });
    const result = await preflight(env, { offline: false, clients });
    const message = expect.stringMatching(/^names account 480123456789, but the credentials are for account 480999999999/);
    expect(result.findings).toEqual([
      { check: "account", severity: "error", field: "cluster.adminPrincipalArns[0]", message },
      { check: "account", severity: "error", field: "ingress.certificateArn", message },
    ]);
    expect(result.exitCode).toBe(1);
  });

  test("no credentials: one finding that says so, and exit 3 when nothing else is refused", async () => {
    const { env, clients, calls } = fakeAws({ GetCallerIdentity: awsError("CredentialsProviderError") });
    const result = await preflight(env, { offline: false, clients });
    expect(result.findings).toEqual([expect.objectContaining({ check: "unchecked", severity: "unknown", message: expect.stringMatching(/^no AWS credentials, so no live check ran/) })]);
    expect(calls).toEqual(["GetCallerIdentity"]);
    expect(result.exitCode).toBe(3);
  });

  test("an API error in one check leaves the others running, and says which calls failed", async () => {
    const { env, clients } = fakeAws({ DescribeInstanceTypeOfferings: awsError("UnauthorizedOperation", 403) });
    const result = await preflight(env, { offline: false, clients });
    expect(result.findings).toEqual([expect.objectContaining({ check: "unchecked", message: expect.stringMatching(/^ec2:DescribeInstanceTypeOfferings failed, so this check did not run: UnauthorizedOperation/) })]);
    expect(result.exitCode).toBe(3);
  });

  test("every quota code it reads is the EC2 one for the family and capacity type", () => {
    expect(GPU_QUOTAS.map((q) => [q.families.source, q.capacityType, q.code])).toEqual([
      ["^g", "ON_DEMAND", "L-DB2E81BA"],
      ["^g", "SPOT", "L-3819A6DF"],
      ["^p", "ON_DEMAND", "L-417A185B"],
      ["^p", "SPOT", "L-7212CCBC"],
    ]);
  });
});

describe("the command", () => {
  const cli = path.join(root, "dist", "scripts", "preflight.js");
  const run = (args: string[]) =>
    spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: "utf8", timeout: 60_000, env: { ...process.env, AWS_EC2_METADATA_DISABLED: "true", AWS_PROFILE: "", AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" } });
  beforeAll(() => {
    if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm test does)`);
  });

  test("the shipped prod file offline: its placeholders are refused, exit 1", () => {
    const result = run(["prod", "--offline"]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("REFUSED placeholder stateBackend.bucket: account 111122223333 is a documentation placeholder");
  });

  test("bad arguments and unknown environments exit 2", () => {
    expect(run([]).status).toBe(2);
    expect(run(["prod", "--online"]).stderr).toContain("unknown option --online");
    const unknown = run(["qa", "--offline"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown environment qa; known: airgapped, dev, prod, staging");
  });

  test("arguments: one environment, --offline optional", () => {
    expect(parsePreflightArgs(["prod"])).toEqual({ environment: "prod", offline: false });
    expect(parsePreflightArgs(["--offline", "dev"])).toEqual({ environment: "dev", offline: true });
  });
});
