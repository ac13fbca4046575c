export * from "./images";
export * from "./private-registry";
