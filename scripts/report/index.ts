export * from "./cost";
export * from "./diagram";
export * from "./diff";
export * from "./models";
export * from "./report";
