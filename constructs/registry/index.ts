export * from "./images";
export * from "./airgapped-registry";
