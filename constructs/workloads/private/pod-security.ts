/**
 * The security contexts every pod in our namespace runs with: what Pod Security Admission's
 * `restricted` level demands, plus a read-only root filesystem and a pinned non-root user.
 */
import type { IIoK8sApiCoreV1PodSecurityContext } from "kubernetes-models/v1/PodSecurityContext";
import type { IIoK8sApiCoreV1SecurityContext } from "kubernetes-models/v1/SecurityContext";
import type { IIoK8sApiCoreV1Volume } from "kubernetes-models/v1/Volume";
import type { IIoK8sApiCoreV1VolumeMount } from "kubernetes-models/v1/VolumeMount";
import { IMAGE_UID } from "../contract";

/** A pod security context that meets the `restricted` Pod Security Standard. */
export function restrictedPodSecurityContext(uid: number = IMAGE_UID): IIoK8sApiCoreV1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    // Volumes (the proxy's EBS volume, emptyDirs) become writable by the pod's group, not by root only.
    fsGroup: uid,
    fsGroupChangePolicy: "OnRootMismatch",
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** A container security context that meets the `restricted` Pod Security Standard (read-only root, no privileges, no capabilities). */
export function restrictedContainerSecurityContext(uid: number = IMAGE_UID): IIoK8sApiCoreV1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** The only writable path a read-only root filesystem leaves a program: a size-capped, pod-local /tmp. */
export const TMP_VOLUME: IIoK8sApiCoreV1Volume = { name: "tmp", emptyDir: { sizeLimit: "1Gi" } };
export const TMP_MOUNT: IIoK8sApiCoreV1VolumeMount = { name: "tmp", mountPath: "/tmp" };
