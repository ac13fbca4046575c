export * from "./arn";
export * from "./encryption-key";
export * from "./secure-bucket";
export * from "./validate";
