export * from "./internal-load-balancer";
