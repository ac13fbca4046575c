export * from "./types";
export * from "./endpoints";
export * from "./private-network";
