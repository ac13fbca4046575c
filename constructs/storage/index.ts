export * from "./model-bucket";
