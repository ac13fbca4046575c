/** Names a container by its first bytes: never by file name or Content-Type, which clients get wrong. */

export type Container = "wav" | "aiff" | "mp3" | "ogg" | "flac" | "webm" | "mp4";

/** An MPEG audio frame header (no ID3 tag in front): sync, and no reserved version, layer, bitrate or rate. */
function isMpegFrame(buf: Buffer): boolean {
  if (buf.length < 4 || buf[0] !== 0xff || (buf[1] & 0xe0) !== 0xe0) return false;
  const version = (buf[1] >> 3) & 3;
  const layer = (buf[1] >> 1) & 3;
  const bitrate = buf[2] >> 4;
  const rate = (buf[2] >> 2) & 3;
  return version !== 1 && layer !== 0 && bitrate !== 15 && rate !== 3;
}

/**
 * `withBareMpeg` false: only unambiguous magic counts. A headerless linear16 body whose first sample is a
 * small negative number starts with 0xFF 0xEx, which looks like an MPEG frame sync.
 */
export function sniffContainer(buf: Buffer, withBareMpeg = true): Container | undefined {
  const ascii = (start: number, end: number) => buf.subarray(start, end).toString("latin1");
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WAVE") return "wav";
  if (ascii(0, 4) === "FORM" && (ascii(8, 12) === "AIFF" || ascii(8, 12) === "AIFC")) return "aiff";
  if (ascii(0, 4) === "OggS") return "ogg";
  if (ascii(0, 4) === "fLaC") return "flac";
  if (ascii(4, 8) === "ftyp") return "mp4";
  if (buf.length > 3 && buf.readUInt32BE(0) === 0x1a45dfa3) return "webm";
  if (ascii(0, 3) === "ID3") return "mp3";
  if (withBareMpeg && isMpegFrame(buf)) return "mp3";
  return undefined;
}
