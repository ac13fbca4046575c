export * from "./arn";
export * from "./cidr";
export * from "./encryption-key";
export * from "./image-ref";
export * from "./names";
export * from "./regions";
export * from "./secure-bucket";
export * from "./validate";
