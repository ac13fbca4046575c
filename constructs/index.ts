/**
 * The construct library platform teams import: `import { PrivateNetwork, SpeechPlatform, enforcePolicy } from "voice-selfhost"`.
 *
 * Its public face, each name bound by semver: the constructs, their props (and the types in them), the
 * contracts constructs hand each other (NetworkRefs, ClusterRefs, ...), the composition that wires them
 * (SpeechPlatform) and the policy layer. Everything else is internal and may change in any release
 * (UPGRADING.md lists what left this list).
 */

// Network
export { PrivateNetwork } from "./network/private-network";
export type { PrivateNetworkProps } from "./network/private-network";
export { ExistingNetwork } from "./network/existing-network";
export type { ExistingNetworkProps, ExistingSubnet } from "./network/existing-network";
export type { NetworkRefs } from "./network/types";
export { INTERFACE_ENDPOINT_SERVICES } from "./network/endpoints";
export type { PerimeterScope, InterfaceEndpointService } from "./network/endpoints";
export type { PolicyStatement } from "./shared/arn";

// Cluster
export { GpuCluster } from "./cluster/gpu-cluster";
export { CONTAINER_LOG_GROUPS } from "./cluster/gpu-cluster";
export type { GpuClusterProps, ContainerLogGroup, ControlPlaneLogType } from "./cluster/gpu-cluster";
export { ExistingCluster } from "./cluster/existing-cluster";
export type { ExistingClusterProps } from "./cluster/existing-cluster";
export { NodePool } from "./cluster/node-pool";
export type { NodePoolProps, NodeAmiType } from "./cluster/node-pool";
export { AdminHost } from "./cluster/admin-host";
export type { AdminHostProps } from "./cluster/admin-host";
export { ClusterAutoscalerRole } from "./cluster/cluster-autoscaler-role";
export type { ClusterAutoscalerRoleProps, PodIdentityCluster } from "./cluster/cluster-autoscaler-role";
export type { ClusterRefs, GpuPoolSpec, PodIdentityRoleOptions } from "./cluster/types";
export { clusterSettingsSchema, gpuPoolSchema, systemPoolSchema } from "./cluster/settings";
export type { ClusterSettings, ClusterSettingsInput, GpuPoolInput, SystemPoolInput } from "./cluster/settings";
export type { GpuInstanceType } from "./cluster/gpu-instance-types";
export { EKS_ADDONS } from "./cluster/versions";
export type { EksAddonName, SupportType } from "./cluster/versions";

// Registry and storage
export { PrivateRegistry, AirGappedRegistry } from "./registry/private-registry";
export type { PrivateRegistryProps, AirGappedRegistryProps, ModelImageSpec, ModelKind, MirrorManifest, MirrorEntry, RegistryImage } from "./registry/private-registry";
export { IMAGES } from "./registry/images";
export type { ImageKey } from "./registry/images";
export { ModelBucket } from "./storage/model-bucket";
export type { ModelBucketProps } from "./storage/model-bucket";
export { RetainedDataKey } from "./storage/retained-data-key";
export type { RetainedDataKeyProps, TaggedKeyRef } from "./storage/retained-data-key";
export { EncryptionKey, keyAccessSchema, setKeyAccess } from "./shared/encryption-key";
export type { EncryptionKeyProps, KeyAccessInput } from "./shared/encryption-key";
export { SecureBucket } from "./shared/secure-bucket";
export type { SecureBucketProps } from "./shared/secure-bucket";

// Ingress
export { InternalLoadBalancer } from "./ingress/internal-load-balancer";
export type { InternalLoadBalancerProps, LoadBalancedService, LoadBalancerTargets } from "./ingress/internal-load-balancer";
export type { LoadBalancerForwarding, ClientSource, TargetProtocol } from "./shared/load-balancer-forwarding";

// Workloads
export { WorkloadNamespace } from "./workloads/namespace";
export type { WorkloadNamespaceProps, NamespaceRef, PodSecurityLevel } from "./workloads/namespace";
export { InferenceService } from "./workloads/inference-service";
export type { InferenceServiceProps, ModelImages } from "./workloads/inference-service";
export type { DrainTiming } from "./shared/drain";
export { LicenseProxy } from "./workloads/license-proxy";
export type { LicenseProxyProps, LicenseProxyMode } from "./workloads/license-proxy";
export { EncryptedStorageClass } from "./workloads/storage-class";
export type { EncryptedStorageClassProps } from "./workloads/storage-class";
export { GpuNodeAgents } from "./workloads/gpu-node-agents";
export type { GpuNodeAgentsProps } from "./workloads/gpu-node-agents";
export { ClusterAutoscaler } from "./workloads/cluster-autoscaler";
export type { ClusterAutoscalerProps, ClusterAutoscalerIdentity } from "./workloads/cluster-autoscaler";
export { Monitoring } from "./workloads/monitoring";
export type { MonitoringProps } from "./workloads/monitoring";
export { AutoscalingMetrics } from "./workloads/autoscaling-metrics";
export type { AutoscalingMetricsProps } from "./workloads/autoscaling-metrics";
export { ScheduledScaling } from "./workloads/scheduled-scaling";
export type { ScheduledScalingProps, ScheduledDeployment } from "./workloads/scheduled-scaling";
export { inferenceServiceSettingsSchema, licenseProxySettingsSchema, modelSettingsSchema, scaleToZeroSettingsSchema } from "./workloads/settings";
export type {
  InferenceServiceSettings,
  InferenceServiceSettingsInput,
  LicenseProxySettings,
  LicenseProxySettingsInput,
  ModelSettings,
  ModelSettingsInput,
  ScaleToZeroSettings,
  ScaleToZeroSettingsInput,
  GpuPlacement,
} from "./workloads/settings";

// The composition: the platform's wiring, once.
export { SpeechPlatform } from "./platform/speech-platform";
export type { SpeechPlatformProps, PlatformCluster, InferenceNodes } from "./platform/speech-platform";

// The policy layer: enforce the rules on your own stacks, and declare exceptions in code.
export { acknowledgePolicy, enforcePolicy } from "./policy";
export type { Acknowledgement, NetworkMode, PolicyOptions } from "./policy";
