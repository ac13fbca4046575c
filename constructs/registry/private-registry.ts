import { EcrLifecyclePolicy } from "@cdktf/provider-aws/lib/ecr-lifecycle-policy";
import { EcrPullThroughCacheRule } from "@cdktf/provider-aws/lib/ecr-pull-through-cache-rule";
import { EcrRepository } from "@cdktf/provider-aws/lib/ecr-repository";
import { EcrRepositoryPolicy } from "@cdktf/provider-aws/lib/ecr-repository-policy";
import { DataAwsEcrRepository } from "@cdktf/provider-aws/lib/data-aws-ecr-repository";
import { Lazy, TerraformLocal, TerraformStack } from "cdktf";
// cdktf's hook for writing files next to a stack's output (its own assets use it); not re-exported from the package root.
import { addCustomSynthesis } from "cdktf/lib/synthesize/synthesizer";
import { Construct } from "constructs";
import * as fs from "fs";
import * as path from "path";
import { NetworkRefs } from "../network/types";
import { policyDocument, PolicyStatement } from "../shared/arn";
import { EncryptionKey } from "../shared/encryption-key";
import { clusterAutoscalerImage } from "../cluster/versions";
import { ImageKey, IMAGES, ImageSpec, upstreamReference } from "./images";

/** Props of PrivateRegistry: only `network` is required; give the pullers with `grantPull`. */
export interface PrivateRegistryProps {
  /** Its mode decides pull-through caches (connected) or VPC-endpoint-only pulls (air-gapped). */
  readonly network: NetworkRefs;
  /**
   * Roles allowed to pull (the cluster's node role).
   * @deprecated Call `registry.grantPull(cluster.nodeRole)`; this prop does the same and goes in the next major version.
   */
  readonly pullerRoleArns?: string[];
  /** Prefix of every repository name; make it unique per environment sharing an account and region. Default `voice-selfhost`. */
  readonly repositoryPrefix?: string;
  /** Region of the registry, written into the mirror manifest's registry host. */
  readonly region?: string;
  /** Tag of our inference image; default the inference-image package version. */
  readonly inferenceImageTag?: string;
  /** The cluster's Kubernetes minor: the cluster autoscaler mirrored is the version table's for it. Default the table's default. */
  readonly kubernetesVersion?: string;
  /** Days an untagged image (a failed or superseded push) is kept; default 14. */
  readonly untaggedExpiryDays?: number;
  /** Images kept per repository, newest first; default 50. */
  readonly maxImagesPerRepository?: number;
  /** Pull-through cache rule prefix (connected mode); default from repositoryPrefix. At most 20 characters. */
  readonly pullThroughCachePrefix?: string;
  /**
   * Repositories that exist already (bring your own), by image key, e.g. `{ nvidiaDevicePlugin: "platform/nvidia/k8s-device-plugin" }`:
   * read with a data source instead of created. Their policies, encryption and lifecycle stay the owner's; the
   * mirror manifest names them. Images not listed get a repository of ours.
   */
  readonly existingRepositories?: Readonly<Partial<Record<ImageKey, string>>>;
  /** Tags for the repositories and the key. */
  readonly tags?: Record<string, string>;
}

/** One image as the cluster pulls it. */
export interface RegistryImage {
  readonly repositoryName: string;
  readonly repositoryUrl: string;
  readonly tag: string;
  readonly digest: string | undefined;
  /** What a pod spec names: `<repositoryUrl>@<digest>` when pinned, else `<repositoryUrl>:<tag>`. */
  readonly imageUri: string;
}

/** What an operator copies before a deploy: upstream (pinned) → ECR repository and tag. Pure data, no Terraform references. */
export interface MirrorManifest {
  readonly registry: string;
  readonly mode: NetworkRefs["mode"];
  readonly images: MirrorEntry[];
}

/** One image of the mirror manifest: where it comes from and where it goes. */
export interface MirrorEntry {
  readonly name: ImageKey;
  readonly purpose: string;
  /** Upstream reference with digest where pinned; null for images built here. */
  readonly source: string | null;
  readonly digest: string | null;
  /** Build context in this repository, for images built here. */
  readonly build: string | null;
  readonly repository: string;
  readonly tag: string;
  readonly note?: string;
}

/** Upstream registries ECR can cache without credentials. */
const PULL_THROUGH_UPSTREAMS = { ecr: "public.ecr.aws", k8s: "registry.k8s.io", quay: "quay.io" } as const;

/**
 * Private ECR repositories for every image the cluster runs (IMAGES), so no node ever pulls from a
 * public registry: immutable tags, scan on push, encryption with a key of the registry's own, a
 * lifecycle, and a repository policy that lets only the node role pull. In air-gapped mode pulls
 * must also come through the VPC's ECR endpoints (`aws:sourceVpce`). In connected mode, pull-through
 * cache rules let an operator fill the repositories from public registries without credentials
 * (the first pull through a cache creates its repository, so it needs ecr:CreateRepository and
 * ecr:BatchImportUpstreamImage, which the node role does not get).
 *
 * `mirrorManifest` (also written as `mirror-manifest.json` next to the stack's cdk.tf.json) lists what
 * to copy; `images` gives the workloads the same URIs.
 */
export class PrivateRegistry extends Construct {
  readonly encryptionKey: EncryptionKey;
  /** The repositories created here; images in `existingRepositories` have none. */
  readonly repositories: Readonly<Partial<Record<ImageKey, EcrRepository>>>;
  readonly images: Readonly<Record<ImageKey, RegistryImage>>;
  readonly mirrorManifest: MirrorManifest;
  readonly pullThroughCacheRules: EcrPullThroughCacheRule[];
  private readonly pullerArns: string[] = [];

  constructor(scope: Construct, id: string, props: PrivateRegistryProps) {
    super(scope, id);
    const where = `PrivateRegistry ${this.node.path}`;
    const prefix = props.repositoryPrefix ?? "voice-selfhost";
    if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(prefix)) {
      throw new Error(`${where}: repositoryPrefix: expected lowercase path segments like voice-selfhost/prod, found "${prefix}"`);
    }
    const endpointIds = props.network.mode === "airgapped" ? ecrEndpointIds(where, props.network) : [];

    this.encryptionKey = new EncryptionKey(this, "key", { description: `ECR repositories under ${prefix}/`, tags: props.tags });
    const specs: Record<ImageKey, ImageSpec> = {
      ...IMAGES,
      inferenceServer: { ...IMAGES.inferenceServer, tag: props.inferenceImageTag ?? IMAGES.inferenceServer.tag },
      clusterAutoscaler: props.kubernetesVersion ? clusterAutoscalerImage(props.kubernetesVersion, where) : IMAGES.clusterAutoscaler,
    };
    const keys = Object.keys(specs) as ImageKey[];
    const existing = props.existingRepositories ?? {};
    for (const [key, name] of Object.entries(existing)) {
      if (!keys.includes(key as ImageKey)) throw new Error(`${where}: existingRepositories: unknown image "${key}"; expected keys of IMAGES (${keys.join(", ")})`);
      const named = name ?? "";
      if (/\.amazonaws\.com/.test(named) || !/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(named)) {
        throw new Error(`${where}: existingRepositories.${key}: expected an ECR repository name like team/nvidia/k8s-device-plugin (no registry host), found "${name}"`);
      }
    }

    const pullActions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];
    // Read at synth, after every grantPull.
    const pullerArns = this.pullerArns;
    const pullers = {
      get AWS(): string[] {
        return pullerArns;
      },
    };
    const statements: PolicyStatement[] = [
      {
        Sid: "NodesPull",
        Effect: "Allow",
        Principal: pullers,
        Action: [...pullActions, "ecr:BatchCheckLayerAvailability"],
      },
      {
        // Identity policies (e.g. broad read-only roles) cannot widen this: only the node role reads images.
        Sid: "DenyPullsByOthers",
        Effect: "Deny",
        Principal: "*",
        Action: pullActions,
        Condition: {
          ArnNotEquals: {
            get "aws:PrincipalArn"(): string[] {
              return pullers.AWS;
            },
          },
        },
      },
    ];
    if (endpointIds.length > 0) {
      statements.push({
        Sid: "DenyPullsOutsideVpcEndpoints",
        Effect: "Deny",
        Principal: "*",
        Action: pullActions,
        Condition: { StringNotEquals: { "aws:sourceVpce": endpointIds } },
      });
    }
    // One document for every repository, held in a local so it is written (and resolved) once.
    const repositoryPolicy = new TerraformLocal(this, "repository-policy", Lazy.stringValue({ produce: () => policyDocument(statements) })).asString;
    const lifecyclePolicy = JSON.stringify({
      rules: [
        {
          rulePriority: 1,
          description: "Expire untagged images",
          selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: props.untaggedExpiryDays ?? 14 },
          action: { type: "expire" },
        },
        {
          rulePriority: 2,
          description: "Keep the newest images only",
          selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: props.maxImagesPerRepository ?? 50 },
          action: { type: "expire" },
        },
      ],
    });

    const repositories: Partial<Record<ImageKey, EcrRepository>> = {};
    const images = {} as Record<ImageKey, RegistryImage>;
    const repositoryNames = Object.fromEntries(keys.map((key) => [key, existing[key] ?? `${prefix}/${specs[key].repository}`])) as Record<ImageKey, string>;
    for (const key of keys) {
      const spec = specs[key];
      const repositoryName = repositoryNames[key];
      const existingName = existing[key];
      if (existingName) {
        const repository = new DataAwsEcrRepository(this, `existing-${key}`, { name: existingName });
        images[key] = registryImage(repositoryName, repository.repositoryUrl, spec);
        continue;
      }
      const repository = new EcrRepository(this, `repo-${key}`, {
        name: repositoryName,
        imageTagMutability: "IMMUTABLE",
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfiguration: [{ encryptionType: "KMS", kmsKey: this.encryptionKey.arn }],
        forceDelete: false,
        tags: { ...props.tags, "voice-selfhost:image": key },
        dependsOn: [this.encryptionKey.policy],
      });
      new EcrRepositoryPolicy(this, `policy-${key}`, { repository: repository.name, policy: repositoryPolicy });
      new EcrLifecyclePolicy(this, `lifecycle-${key}`, { repository: repository.name, policy: lifecyclePolicy });
      repositories[key] = repository;
      images[key] = registryImage(repositoryName, repository.repositoryUrl, spec);
    }
    this.repositories = repositories;
    this.images = images;

    this.pullThroughCacheRules =
      props.network.mode === "connected"
        ? Object.entries(PULL_THROUGH_UPSTREAMS).map(([short, upstream]) => {
            const cachePrefix = `${props.pullThroughCachePrefix ?? prefix.replace(/\//g, "-")}-${short}`;
            if (cachePrefix.length > 30) {
              throw new Error(`${where}: pull-through cache prefix "${cachePrefix}" is longer than ECR's 30 characters; set a shorter pullThroughCachePrefix`);
            }
            return new EcrPullThroughCacheRule(this, `pull-through-${short}`, { ecrRepositoryPrefix: cachePrefix, upstreamRegistryUrl: upstream });
          })
        : [];

    for (const arn of props.pullerRoleArns ?? []) this.grantPull(arn);
    this.node.addValidation({
      validate: () => (pullerArns.length > 0 ? [] : [`${where}: no puller: call grantPull(role) with the cluster's node role (the kubelet pulls with it)`]),
    });

    this.mirrorManifest = {
      registry: `<account>.dkr.ecr.${props.region ?? "<region>"}.amazonaws.com (the stack's registry outputs give the full repository URLs)`,
      mode: props.network.mode,
      images: keys.map((key) => mirrorEntry(key, specs[key], repositoryNames[key])),
    };
    const manifest = this.mirrorManifest;
    const stack = TerraformStack.of(this);
    addCustomSynthesis(this, {
      onSynthesize(session) {
        const dir = path.join(session.outdir, session.manifest.forStack(stack).workingDirectory);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "mirror-manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
      },
    });
  }

  /** Lets `role` (an IamRole or its ARN) pull every image; every other principal stays denied. Usually the cluster's node role. */
  grantPull(role: { readonly arn: string } | string): void {
    const arn = typeof role === "string" ? role : role.arn;
    if (!this.pullerArns.includes(arn)) this.pullerArns.push(arn);
  }
}

function registryImage(repositoryName: string, repositoryUrl: string, spec: ImageSpec): RegistryImage {
  const imageUri = spec.digest ? `${repositoryUrl}@${spec.digest}` : `${repositoryUrl}:${spec.tag}`;
  return { repositoryName, repositoryUrl, tag: spec.tag, digest: spec.digest, imageUri };
}

function mirrorEntry(name: ImageKey, spec: ImageSpec, repository: string): MirrorEntry {
  const source = upstreamReference(spec) ?? null;
  const note = spec.build
    ? `build ${spec.build}/ and push it as ${repository}:${spec.tag}`
    : spec.digest
      ? `copy by digest, all platforms: skopeo copy --all docker://${source} docker://<registry>/${repository}:${spec.tag}`
      : `no digest pinned: resolve it with \`skopeo inspect docker://${source}\` at copy time and record it`;
  return { name, purpose: spec.purpose, source, digest: spec.digest ?? null, build: spec.build ?? null, repository, tag: spec.tag, note };
}

function ecrEndpointIds(where: string, network: NetworkRefs): string[] {
  const ids = ["ecr.api", "ecr.dkr"].map((service) => network.interfaceEndpointIds?.[service]);
  if (ids.some((id) => id === undefined)) {
    throw new Error(`${where}: an air-gapped network must expose its ecr.api and ecr.dkr endpoint ids (NetworkRefs.interfaceEndpointIds) so pulls can be pinned to them`);
  }
  return ids as string[];
}

/**
 * The former name of PrivateRegistry, which serves every environment, connected ones included.
 * @deprecated Use PrivateRegistry; this alias goes in the next major version.
 */
export const AirGappedRegistry = PrivateRegistry;
/** @deprecated Use PrivateRegistry. */
export type AirGappedRegistry = PrivateRegistry;
/** @deprecated Use PrivateRegistryProps. */
export type AirGappedRegistryProps = PrivateRegistryProps;
