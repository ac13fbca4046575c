export * from "./types";
export * from "./stack-view";
export * from "./engine";
export * from "./enforce";
export { RULES } from "./rules";
export { MODERN_TLS_POLICIES } from "./rules/aws";
export * from "./policy-document";
