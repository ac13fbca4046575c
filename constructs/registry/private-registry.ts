import { EcrLifecyclePolicy } from "@cdktf/provider-aws/lib/ecr-lifecycle-policy";
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
import { inspectorServiceLinkedRoleArn, policyDocument, PolicyStatement } from "../shared/arn";
import { EncryptionKey } from "../shared/encryption-key";
import { forgetWithoutDestroying, legacyLogicalId } from "../private/removed";
import { clusterAutoscalerImage } from "../cluster/versions";
import { ImageKey, IMAGES, ImageSpec, upstreamReference } from "./images";

/** Props of PrivateRegistry: only `network` is required; give the pullers with `grantPull`. */
export interface PrivateRegistryProps {
  /** Air-gapped, pulls must come through its ECR endpoints. */
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
  /**
   * Repositories that exist already (bring your own), by image key, e.g. `{ nvidiaDevicePlugin: "platform/nvidia/k8s-device-plugin" }`:
   * read with a data source instead of created. Their policies, encryption and lifecycle stay the owner's; the
   * mirror manifest names them. Images not listed get a repository of ours.
   */
  readonly existingRepositories?: Readonly<Partial<Record<ImageKey, string>>>;
  /**
   * Model images the workloads run (workloads.models.source "registry"), by kind: each gets a repository
   * `<prefix>/models/<kind>` with the same controls, and a mirror manifest entry with the tag and digest to push.
   */
  readonly modelImages?: Partial<Record<ModelKind, ModelImageSpec>>;
  /** Tags for the repositories and the key. */
  readonly tags?: Record<string, string>;
}

/** The two kinds of model: speech-to-text and text-to-speech. */
export type ModelKind = "stt" | "tts";

/** A model image as built from a staged model (model-import --image-from) and pushed: its tag and the digest the push printed. */
export interface ModelImageSpec {
  readonly tag: string;
  readonly digest: string;
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
  /** The image's key in IMAGES, or `<kind>Model` for a model image. */
  readonly name: ImageKey | `${ModelKind}Model`;
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

/** What a mirror role does to a repository: push an image, and read it back to verify its digest. */
const MIRROR_ACTIONS = [
  "ecr:BatchCheckLayerAvailability",
  "ecr:InitiateLayerUpload",
  "ecr:UploadLayerPart",
  "ecr:CompleteLayerUpload",
  "ecr:PutImage",
  "ecr:BatchGetImage",
  "ecr:GetDownloadUrlForLayer",
  "ecr:DescribeImages",
];

/**
 * Private ECR repositories for every image the cluster runs (IMAGES), so no node ever pulls from a
 * public registry: immutable tags, scan on push, encryption with a key of the registry's own, a
 * lifecycle, and a repository policy that lets only the node role pull. In air-gapped mode pulls
 * must also come through the VPC's ECR endpoints (`aws:sourceVpce`). Both pull denies let two more
 * principals through: the mirror roles (`grantMirror`, which push the images in and read them back),
 * and Amazon Inspector's service-linked role, so enhanced scanning can read what it scans. Images
 * arrive only by copying (the mirror manifest): no pull-through cache rule creates repositories
 * outside these controls.
 *
 * `mirrorManifest` (also written as `mirror-manifest.json` next to the stack's cdk.tf.json) lists what
 * to copy; `images` gives the workloads the same URIs, and `modelImages` the model images' (by digest).
 */
export class PrivateRegistry extends Construct {
  readonly encryptionKey: EncryptionKey;
  /** The repositories created here; images in `existingRepositories` have none. */
  readonly repositories: Readonly<Partial<Record<ImageKey, EcrRepository>>>;
  readonly images: Readonly<Record<ImageKey, RegistryImage>>;
  /** The model images, by kind, each pinned by its digest (`imageUri` is `<repository>@sha256:...`). */
  readonly modelImages: Readonly<Partial<Record<ModelKind, RegistryImage>>>;
  readonly mirrorManifest: MirrorManifest;
  private readonly pullerArns: string[] = [];
  private readonly mirrorArns: string[] = [];

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
    const inspector = inspectorServiceLinkedRoleArn(this.encryptionKey.partition, this.encryptionKey.account);
    // Built at synth, after every grantPull and grantMirror.
    const statements = (): PolicyStatement[] => [
      { Sid: "NodesPull", Effect: "Allow", Principal: { AWS: [...this.pullerArns] }, Action: [...pullActions, "ecr:BatchCheckLayerAvailability"] },
      ...(this.mirrorArns.length ? [{ Sid: "MirrorsPushAndVerify", Effect: "Allow" as const, Principal: { AWS: [...this.mirrorArns] }, Action: MIRROR_ACTIONS }] : []),
      {
        // Identity policies (e.g. broad read-only roles) cannot widen this: only the nodes, the mirrors and Inspector read images.
        Sid: "DenyPullsByOthers",
        Effect: "Deny",
        Principal: "*",
        Action: pullActions,
        Condition: { ArnNotEquals: { "aws:PrincipalArn": [...this.pullerArns, ...this.mirrorArns, inspector] } },
      },
      ...(endpointIds.length
        ? [
            {
              // Inspector scans from inside AWS, not through this VPC: without its exception enhanced scanning fails here.
              Sid: "DenyPullsOutsideVpcEndpoints",
              Effect: "Deny" as const,
              Principal: "*",
              Action: pullActions,
              Condition: { StringNotEquals: { "aws:sourceVpce": endpointIds }, ArnNotEquals: { "aws:PrincipalArn": [inspector] } },
            },
          ]
        : []),
    ];
    // One document for every repository, held in a local so it is written (and resolved) once.
    const repositoryPolicy = new TerraformLocal(this, "repository-policy", Lazy.stringValue({ produce: () => policyDocument(statements()) })).asString;
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

    const createRepository = (key: string, name: string): EcrRepository => {
      const repository = new EcrRepository(this, `repo-${key}`, {
        name,
        imageTagMutability: "IMMUTABLE",
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfiguration: [{ encryptionType: "KMS", kmsKey: this.encryptionKey.arn }],
        forceDelete: false,
        tags: { ...props.tags, "voice-selfhost:image": key },
        dependsOn: [this.encryptionKey.policy],
      });
      new EcrRepositoryPolicy(this, `policy-${key}`, { repository: repository.name, policy: repositoryPolicy });
      new EcrLifecyclePolicy(this, `lifecycle-${key}`, { repository: repository.name, policy: lifecyclePolicy });
      return repository;
    };
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
      const repository = createRepository(key, repositoryName);
      repositories[key] = repository;
      images[key] = registryImage(repositoryName, repository.repositoryUrl, spec);
    }
    this.repositories = repositories;
    this.images = images;
    // The aws-cli image synced models from S3 inside the inference pods until 0.2.0: its repository (and any copy in it)
    // is no longer managed, and Terraform forgets it rather than delete a repository that may hold images.
    for (const resource of ["aws_ecr_repository.repo", "aws_ecr_repository_policy.policy", "aws_ecr_lifecycle_policy.lifecycle"]) {
      const [type, id] = resource.split(".");
      forgetWithoutDestroying(this, `${type}.${legacyLogicalId(this, `${id}-awsCli`)}`);
    }

    const modelImages: Partial<Record<ModelKind, RegistryImage>> = {};
    const modelEntries: MirrorEntry[] = [];
    for (const [kind, model] of Object.entries(props.modelImages ?? {}) as [ModelKind, ModelImageSpec][]) {
      if (!/^sha256:[a-f0-9]{64}$/.test(model.digest)) throw new Error(`${where}: modelImages.${kind}.digest: expected sha256:<64 hex digits>, found "${model.digest}"`);
      const name = `${prefix}/models/${kind}`;
      const repository = createRepository(`${kind}Model`, name);
      modelImages[kind] = { repositoryName: name, repositoryUrl: repository.repositoryUrl, tag: model.tag, digest: model.digest, imageUri: `${repository.repositoryUrl}@${model.digest}` };
      modelEntries.push({
        name: `${kind}Model`,
        purpose: `the ${kind === "stt" ? "speech-to-text" : "text-to-speech"} model, copied into the inference pods at start (workloads.models.source "registry")`,
        source: null,
        digest: model.digest,
        build: MODEL_IMAGE_BUILD,
        repository: name,
        tag: model.tag,
        note: `build the model image model-import wrote (${MODEL_IMAGE_BUILD}) and push it as ${name}:${model.tag}; the push must print ${model.digest}, the digest the pods pull`,
      });
    }
    this.modelImages = modelImages;

    for (const arn of props.pullerRoleArns ?? []) this.grantPull(arn);
    this.node.addValidation({
      validate: () => (this.pullerArns.length > 0 ? [] : [`${where}: no puller: call grantPull(role) with the cluster's node role (the kubelet pulls with it)`]),
    });

    this.mirrorManifest = {
      registry: `<account>.dkr.ecr.${props.region ?? "<region>"}.amazonaws.com (the stack's registry outputs give the full repository URLs)`,
      mode: props.network.mode,
      images: [...keys.map((key) => mirrorEntry(key, specs[key], repositoryNames[key])), ...modelEntries],
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

  /**
   * Lets `role` (the role that copies images in, see the mirror manifest) push every image and read it
   * back to verify its digest; the pull denies let it through. Air-gapped, its reads must still come
   * through the VPC's ECR endpoints.
   */
  grantMirror(role: { readonly arn: string } | string): void {
    const arn = typeof role === "string" ? role : role.arn;
    if (!this.mirrorArns.includes(arn)) this.mirrorArns.push(arn);
  }
}

/** Where a model image's build comes from: the Dockerfile `model-import --image-from` writes next to the staged model. */
export const MODEL_IMAGE_BUILD = "<staged model>.Dockerfile (model-import --image-from)";

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
