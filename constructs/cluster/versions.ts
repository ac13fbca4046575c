/**
 * The one table of EKS versions: when each Kubernetes minor is supported on EKS, and what a cluster
 * of that minor runs (managed add-on versions, node AMI release versions, the cluster autoscaler
 * image). GpuCluster checks its version against the dates at synth, pins its add-ons and node AMIs
 * from here unless told otherwise, and the registry mirrors the autoscaler of the same minor.
 *
 * Dates (UTC): the EKS user guide's "Amazon EKS Kubernetes release calendar"
 * (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html; awsdocs/amazon-eks-user-guide,
 * latest/ug/versioning/kubernetes-versions.adoc) for 1.29-1.34, and for 1.35 endoflife.date/amazon-eks
 * and the AWS samples' EKS calendar (aws-samples.github.io/sample-apex-skills, verified 2026-04-24),
 * which agree. 1.36 is offered by EKS (its AL2023 AMIs since amazon-eks-ami v20260610), but no source
 * we could read gives its EKS dates yet: add it here from the calendar before moving a cluster to it.
 */

/**
 * The managed add-ons GpuCluster installs, by EKS add-on name. metrics-server (an EKS community add-on)
 * serves the resource metrics HPAs and `kubectl top` read; amazon-cloudwatch-observability ships the
 * containers' logs (its Fluent Bit) to CloudWatch. Add-on images come from AWS's regional ECR registries,
 * which an air-gapped VPC reaches through its ECR and S3 endpoints: nothing to mirror.
 */
export const EKS_ADDONS = ["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent", "aws-ebs-csi-driver", "metrics-server", "amazon-cloudwatch-observability"] as const;
/** One of EKS_ADDONS. */
export type EksAddonName = (typeof EKS_ADDONS)[number];

/** Node AMI families, as EKS AMI types name them: their release versions are numbered differently. */
export type AmiFamily = "AL2023" | "BOTTLEROCKET";

/** What a cluster of one minor runs, pinned so a re-apply changes nothing unreviewed. */
export interface EksVersionPins {
  /** EKS add-on versions (`aws eks describe-addon-versions --kubernetes-version <minor>`). */
  readonly addons: Readonly<Record<EksAddonName, string>>;
  /** Node group `release_version` per AMI family; a family without one must be pinned by the pool itself. */
  readonly amiReleaseVersions: Readonly<Partial<Record<AmiFamily, string>>>;
  /** registry.k8s.io/autoscaling/cluster-autoscaler: its minor is the cluster's. */
  readonly clusterAutoscaler: { readonly tag: string; readonly digest: string; readonly digestSource: string };
  /** Where the pins were read, for a reviewer. */
  readonly source: string;
}

/** One Kubernetes minor on EKS: its support dates, and what clusters of it run by default. */
export interface EksVersion {
  /** ISO dates (UTC): EKS release, end of standard support, end of extended support. */
  readonly released: string;
  readonly standardSupportEnds: string;
  readonly extendedSupportEnds: string;
  /** Defaults for clusters of this minor; versions we no longer ship defaults for have none. */
  readonly pins?: EksVersionPins;
}

export const EKS_VERSIONS: Readonly<Record<string, EksVersion>> = {
  "1.35": {
    released: "2026-01-28",
    standardSupportEnds: "2027-03-27",
    extendedSupportEnds: "2028-03-27",
    pins: {
      addons: {
        "vpc-cni": "v1.21.1-eksbuild.3",
        "kube-proxy": "v1.35.0-eksbuild.2",
        coredns: "v1.13.2-eksbuild.1",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
        "aws-ebs-csi-driver": "v1.57.1-eksbuild.1",
        "metrics-server": "v0.9.0-eksbuild.6",
        "amazon-cloudwatch-observability": "v6.7.0-eksbuild.1",
      },
      amiReleaseVersions: { AL2023: "1.35.6-20260714" },
      clusterAutoscaler: {
        tag: "v1.35.2",
        digest: "sha256:aac369dc283927a623deb1af54696efcc722ae79255aa07788422e495bab887d",
        digestSource: "a public deployment record pinning registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.2@sha256:aac369dc... (re-resolved there)",
      },
      source:
        "add-ons: a public Terraform configuration of a 1.35 cluster (metrics-server and amazon-cloudwatch-observability: public configurations of 2026 clusters, the latter of a 1.36 one; confirm all with `aws eks describe-addon-versions --kubernetes-version 1.35`); AMI: awslabs/amazon-eks-ami CHANGELOG, AMI Release v20260714 (AL2023 x86_64 standard and nvidia); autoscaler: see digestSource",
    },
  },
  "1.34": { released: "2025-10-02", standardSupportEnds: "2026-12-02", extendedSupportEnds: "2027-12-02" },
  "1.33": { released: "2025-05-29", standardSupportEnds: "2026-07-29", extendedSupportEnds: "2027-07-29" },
  "1.32": { released: "2025-01-23", standardSupportEnds: "2026-03-23", extendedSupportEnds: "2027-03-23" },
  "1.31": { released: "2024-09-26", standardSupportEnds: "2025-11-26", extendedSupportEnds: "2026-11-26" },
  "1.30": { released: "2024-05-23", standardSupportEnds: "2025-07-23", extendedSupportEnds: "2026-07-23" },
  "1.29": { released: "2024-01-23", standardSupportEnds: "2025-03-23", extendedSupportEnds: "2026-03-23" },
};

/** The minor new clusters get: the newest in the table with pins. */
export const DEFAULT_KUBERNETES_VERSION = "1.35";

/** EKS's upgrade policy: STANDARD lets EKS upgrade the control plane at the end of standard support; EXTENDED keeps the version and bills extended support. */
export type SupportType = "STANDARD" | "EXTENDED";

/** Days before the end of standard support from which synth warns that an upgrade is due (EKS announces an end at least 60 days ahead). */
export const UPGRADE_WARNING_DAYS = 60;

const DAY_MS = 86_400_000;
const dayOf = (iso: string) => Date.parse(`${iso}T00:00:00Z`);

/** What the calendar says about a minor on a date: an error (refuse it), a warning, or neither. */
export interface VersionVerdict {
  readonly error?: string;
  readonly warning?: string;
}

/**
 * Whether a cluster of `version` may be created or kept on `date`. Past the end of standard support
 * EKS either bills extended support or, with supportType STANDARD, upgrades the control plane by
 * itself: both are refused unless the file says EXTENDED, a decision to pay while stepping through
 * upgrades one minor at a time. Past the end of extended support nothing is allowed.
 */
export function checkVersionSupport(version: string, supportType: SupportType, date: Date): VersionVerdict {
  const entry = EKS_VERSIONS[version];
  const day = date.toISOString().slice(0, 10);
  if (!entry) {
    return { error: `expected a Kubernetes minor in the EKS version table (${Object.keys(EKS_VERSIONS).join(", ")}; constructs/cluster/versions.ts), found "${version}": add its dates from the EKS release calendar first` };
  }
  if (date.getTime() < dayOf(entry.released)) return { error: `expected a version EKS offers on ${day}; ${version} is released on EKS on ${entry.released}` };
  if (date.getTime() >= dayOf(entry.extendedSupportEnds)) {
    return { error: `expected a version EKS still supports on ${day}; ${version} reached the end of extended support on ${entry.extendedSupportEnds}, after which EKS creates no cluster of it and upgrades existing ones by itself: use ${DEFAULT_KUBERNETES_VERSION}` };
  }
  if (date.getTime() >= dayOf(entry.standardSupportEnds)) {
    if (supportType === "EXTENDED") {
      return { warning: `${version} is in extended support since ${entry.standardSupportEnds} (billed at the extended rate until ${entry.extendedSupportEnds}), as supportType EXTENDED allows: upgrade one minor at a time to ${DEFAULT_KUBERNETES_VERSION}` };
    }
    return {
      error: `expected a version in standard support on ${day}; ${version} left standard support on ${entry.standardSupportEnds}: use ${DEFAULT_KUBERNETES_VERSION}, or, while upgrading an existing cluster one minor at a time, set supportType "EXTENDED" to accept extended-support billing until ${entry.extendedSupportEnds}`,
    };
  }
  const daysLeft = Math.ceil((dayOf(entry.standardSupportEnds) - date.getTime()) / DAY_MS);
  if (daysLeft <= UPGRADE_WARNING_DAYS) return { warning: `${version} leaves standard support on ${entry.standardSupportEnds} (in ${daysLeft} days): plan the upgrade to the next minor` };
  return {};
}

/** The AMI family of an EKS AMI type (`AL2023_x86_64_NVIDIA` -> AL2023). */
export function amiFamily(amiType: string): AmiFamily {
  return amiType.startsWith("BOTTLEROCKET") ? "BOTTLEROCKET" : "AL2023";
}

/** The Kubernetes minor (`1.35`) of a version like `v1.35.2`, `1.35.6-20260714` or `v1.35.0-eksbuild.2`; undefined when it names none. */
export function minorOf(version: string): string | undefined {
  return /^v?(1\.\d+)\./.exec(version)?.[1];
}

/** Add-on versions for a cluster of `version`: the table's, with the caller's overrides; every add-on must end up pinned. */
export function resolveAddonVersions(version: string, overrides: Partial<Record<EksAddonName, string | undefined>>, where: string): Record<EksAddonName, string> {
  const defaults = EKS_VERSIONS[version]?.pins?.addons;
  return Object.fromEntries(
    EKS_ADDONS.map((name) => {
      const pinned = overrides[name] ?? defaults?.[name];
      if (!pinned) throw new Error(`${where}: addonVersions.${name}: expected a version for Kubernetes ${version} (the version table has none; \`aws eks describe-addon-versions --addon-name ${name} --kubernetes-version ${version}\` lists them)`);
      return [name, pinned];
    }),
  ) as Record<EksAddonName, string>;
}

/**
 * A node pool's AMI release version for a cluster of `version`: its own, else the table's for its AMI
 * family. An AL2023 release must be of the cluster's minor. Undefined when neither names one (the
 * table pins AL2023 only): EKS then picks its latest release when it creates the group.
 */
export function resolveAmiReleaseVersion(version: string, amiType: string, override: string | undefined, where: string): string | undefined {
  const family = amiFamily(amiType);
  const pinned = override ?? EKS_VERSIONS[version]?.pins?.amiReleaseVersions[family];
  if (pinned && family === "AL2023" && minorOf(pinned) !== version) throw new Error(`${where}: amiReleaseVersion: expected an AL2023 release of Kubernetes ${version}, found "${pinned}"`);
  return pinned;
}

/** Where an operator reads the latest release of a family to pin (an SSM public parameter). */
export function amiReleaseLookup(version: string, amiType: string): string {
  const name =
    amiFamily(amiType) === "AL2023"
      ? `/aws/service/eks/optimized-ami/${version}/amazon-linux-2023/x86_64/${amiType.endsWith("NVIDIA") ? "nvidia" : "standard"}/recommended/release_version`
      : `/aws/service/bottlerocket/aws-k8s-${version}-nvidia/x86_64/latest/image_version`;
  return `aws ssm get-parameter --name ${name}`;
}

/** The cluster autoscaler image (as the registry's IMAGES lists images) for clusters of `version`, from the table. */
export function clusterAutoscalerImage(version: string, where = "EKS version table") {
  const pinned = EKS_VERSIONS[version]?.pins?.clusterAutoscaler;
  if (!pinned) throw new Error(`${where}: kubernetesVersion: expected a Kubernetes minor with a cluster autoscaler in the EKS version table (constructs/cluster/versions.ts), found "${version}"`);
  return {
    repository: "autoscaling/cluster-autoscaler",
    upstream: "registry.k8s.io/autoscaling/cluster-autoscaler",
    tag: pinned.tag,
    digest: pinned.digest,
    digestSource: pinned.digestSource,
    purpose: `scales the GPU node groups, from zero, on pending pods (its minor, ${version}, is the cluster's)`,
  } as const;
}
