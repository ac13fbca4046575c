export * from "./gpu-instance-types";
export * from "./node-pool";
export * from "./gpu-cluster";
export * from "./existing-cluster";
export * from "./cluster-autoscaler-role";
export * from "./settings";
export * from "./types";
export * from "./versions";
