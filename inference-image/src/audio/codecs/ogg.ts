/**
 * An Ogg page writer for Opus (RFC 3533 pages, RFC 7845 Opus mapping). npm has Ogg demuxers but no small
 * muxer that lets the caller decide when a page is flushed, and streamed speech needs a page per chunk.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/** Ogg's CRC-32: polynomial 0x04c11db7, no reflection, initial value 0. */
export function crc32(buf: Buffer): number {
  let crc = 0;
  for (let i = 0; i < buf.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]) & 0xff]) >>> 0;
  return crc;
}

const BOS = 0x02;
const EOS = 0x04;
const MAX_SEGMENTS = 255;

export class OggWriter {
  private sequence = 0;
  private readonly serial = (Math.random() * 0xffffffff) >>> 0;

  /** One page of whole packets (the caller keeps the segment count within 255); granule: the last packet's end. */
  private page(packets: Buffer[], granule: bigint, flags: number): Buffer {
    const lacing: number[] = [];
    for (const p of packets) {
      for (let left = p.length; ; left -= 255) {
        lacing.push(Math.min(left, 255));
        if (left < 255) break;
      }
    }
    const header = Buffer.alloc(27 + lacing.length);
    header.write("OggS", 0, "latin1");
    header[5] = flags;
    header.writeBigInt64LE(granule, 6);
    header.writeUInt32LE(this.serial, 14);
    header.writeUInt32LE(this.sequence++, 18);
    header[26] = lacing.length;
    Buffer.from(lacing).copy(header, 27);
    const page = Buffer.concat([header, ...packets]);
    page.writeUInt32LE(crc32(page), 22);
    return page;
  }

  /** OpusHead alone on the first page, OpusTags on the second (RFC 7845 section 3). */
  opusHeaders(channels: number, preSkip: number, inputRate: number, vendor: string): Buffer {
    const head = Buffer.alloc(19);
    head.write("OpusHead", 0, "latin1");
    head[8] = 1;
    head[9] = channels;
    head.writeUInt16LE(preSkip, 10);
    head.writeUInt32LE(inputRate, 12);
    const vendorBytes = Buffer.from(vendor, "utf8");
    const tags = Buffer.alloc(8 + 4 + vendorBytes.length + 4);
    tags.write("OpusTags", 0, "latin1");
    tags.writeUInt32LE(vendorBytes.length, 8);
    vendorBytes.copy(tags, 12);
    return Buffer.concat([this.page([head], 0n, BOS), this.page([tags], 0n, 0)]);
  }

  /** Pages for packets that end at the given granule positions; `last` marks the end of the stream. */
  packets(packets: Buffer[], granules: bigint[], last: boolean): Buffer {
    const pages: Buffer[] = [];
    let start = 0;
    let segments = 0;
    for (let i = 0; i < packets.length; i++) {
      const need = Math.floor(packets[i].length / 255) + 1;
      if (segments + need > MAX_SEGMENTS) {
        pages.push(this.page(packets.slice(start, i), granules[i - 1], 0));
        start = i;
        segments = 0;
      }
      segments += need;
    }
    if (start < packets.length) pages.push(this.page(packets.slice(start), granules[packets.length - 1], last ? EOS : 0));
    else if (last) pages.push(this.page([], granules[granules.length - 1] ?? 0n, EOS));
    return Buffer.concat(pages);
  }
}
