export * from "./arn";
export * from "./drain";
export * from "./encryption-key";
export * from "./load-balancer-forwarding";
export * from "./secure-bucket";
