export * from "./cost";
export * from "./diagram";
export * from "./diff";
export * from "./report";
