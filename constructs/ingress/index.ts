export * from "./internal-load-balancer";
export * from "./settings";
