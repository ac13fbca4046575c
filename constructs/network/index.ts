export * from "./types";
export * from "./endpoints";
export * from "./existing-network";
export * from "./private-network";
export * from "./settings";
