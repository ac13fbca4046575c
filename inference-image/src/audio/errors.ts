/**
 * Why audio was refused, in the audio layer's own terms: the server maps each kind to its answer (server/errors.ts:
 * 400 invalid_audio, 415 unsupported_audio, 413 audio_too_long) and the socket routes to their close codes.
 */
export abstract class AudioError extends Error {}

/** Malformed, truncated or corrupt: the bytes do not hold what their header says. */
export class InvalidAudioError extends AudioError {
  override readonly name: string = "InvalidAudioError";
}

/** Valid perhaps, but a format, codec, rate or channel count this server does not decode. */
export class UnsupportedAudioError extends AudioError {
  override readonly name: string = "UnsupportedAudioError";
}

/** More audio than the caller allows (an upload, or a live stream over its session). */
export class AudioTooLongError extends AudioError {
  override readonly name: string = "AudioTooLongError";
}
