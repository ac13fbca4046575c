export * from "./speech-platform";
