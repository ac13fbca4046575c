/** The app's environment files: their schema and loader. Not library API: the library's constructs take props, not files. */
export * from "./environment-schema";
export * from "./load";
