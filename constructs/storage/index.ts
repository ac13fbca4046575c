export * from "./model-bucket";
export * from "./retained-data-key";
