export * from "./images";
export * from "./private-registry";
export * from "./settings";
