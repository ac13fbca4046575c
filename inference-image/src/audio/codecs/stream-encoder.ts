/** What every speech encoder is (encoders.ts makes them; aac.ts is one): its own file, so neither imports the other. */

export const ENCODINGS = ["linear16", "mulaw", "alaw", "mp3", "opus", "flac", "aac"] as const;
export type Encoding = (typeof ENCODINGS)[number];

export interface EncoderSpec {
  encoding: Encoding;
  /** wav: linear16/mulaw/alaw in RIFF; ogg: opus; none: raw samples or the codec's own stream (mp3, flac, ADTS). */
  container: "wav" | "ogg" | "none";
  sampleRate: number;
  /** Bits per second, for mp3, opus and aac. */
  bitRate?: number;
}

export interface StreamEncoder {
  readonly contentType: string;
  /** Encoded bytes for these samples (possibly none yet: codecs work in whole frames). */
  push(pcm: Int16Array): Promise<Buffer>;
  /** End of speech: the rest, the codec's final frames and trailer. */
  end(): Promise<Buffer>;
  /** Abandoned (the client left): free the codec, kill a child. */
  close(): void;
}
