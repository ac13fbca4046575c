/**
 * @evan/opus loads a native libopus addon when it can. Jest gives every test file its own module registry,
 * and the addon loaded into a second registry of the same process encodes empty packets (measured), so the
 * tests use the package's WASM build of the same libopus; the server process loads the addon once.
 */
process.env.OPUS_FORCE_WASM ??= "1";
