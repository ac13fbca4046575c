/**
 * What a start-up check needs of an ONNX file, read without loading it: its graph inputs and outputs
 * and its metadata (the custom key/values sherpa-onnx reads). protobufjs decodes a message only whole,
 * from memory, and a model file is mostly weights (hundreds of MB to GB); so the file's framing is
 * walked with positioned reads, the weights skipped by their length, and only the small messages
 * (ValueInfoProto, StringStringEntryProto) decoded with the ONNX schema.
 */
import fs from "node:fs";
import { onnx } from "onnx-proto";

export interface OnnxTensorInfo {
  name: string;
  /** onnx.TensorProto.DataType (1 float, 6 int32, 7 int64, ...); 0 when not a tensor. */
  elemType: number;
  /** Each dimension's fixed size, or its symbolic name. */
  dims: (number | string)[];
}

export interface OnnxHeader {
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
  metadata: Record<string, string>;
}

export class OnnxFormatError extends Error {}

// Field numbers in onnx.proto: ModelProto.graph and .metadata_props; GraphProto.initializer, .input and .output; TensorProto.name.
const MODEL_GRAPH = 7;
const MODEL_METADATA = 14;
const GRAPH_INITIALIZER = 5;
const TENSOR_NAME = 8;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
/** A ValueInfoProto or metadata entry larger than this is not one a real model has: the file is corrupt. */
const MAX_SMALL_MESSAGE = 16 * 1024 * 1024;

class Cursor {
  private readonly byte = Buffer.alloc(1);

  constructor(
    private readonly fd: number,
    readonly size: number,
    public pos = 0,
  ) {}

  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.size) throw new OnnxFormatError(`truncated at byte ${this.pos}`);
      fs.readSync(this.fd, this.byte, 0, 1, this.pos++);
      value += (this.byte[0] & 0x7f) * 2 ** shift;
      if ((this.byte[0] & 0x80) === 0) return value;
    }
    throw new OnnxFormatError(`malformed varint at byte ${this.pos}`);
  }

  bytes(length: number): Buffer {
    if (length > MAX_SMALL_MESSAGE || this.pos + length > this.size) throw new OnnxFormatError(`field of ${length} bytes at byte ${this.pos} runs past the end`);
    const out = Buffer.alloc(length);
    fs.readSync(this.fd, out, 0, length, this.pos);
    this.pos += length;
    return out;
  }

  /** Skip one field's value of the given wire type. */
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 5) this.pos += 4;
    else if (wireType === 2) {
      const length = this.varint();
      this.pos += length;
    }
    else throw new OnnxFormatError(`unsupported wire type ${wireType} at byte ${this.pos}`);
    if (this.pos > this.size) throw new OnnxFormatError("a field runs past the end of the file");
  }

  /** Call `field` for each field of the message that ends at `end`. */
  fields(end: number, field: (number: number, wireType: number) => void): void {
    while (this.pos < end) {
      const key = this.varint();
      const number = Math.floor(key / 8);
      if (number === 0) throw new OnnxFormatError(`field number 0 at byte ${this.pos}`);
      field(number, key % 8);
    }
    if (this.pos !== end) throw new OnnxFormatError("a field runs past its message");
  }
}

function tensorInfo(raw: Buffer): OnnxTensorInfo {
  const v = onnx.ValueInfoProto.decode(raw);
  const t = v.type?.tensorType;
  return {
    name: v.name,
    elemType: t?.elemType ?? 0,
    dims: (t?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue ?? 0))),
  };
}

/** Read the inputs, outputs and metadata of the ONNX model in `file`; OnnxFormatError if it is not one. */
export function readOnnxHeader(file: string): OnnxHeader {
  const fd = fs.openSync(file, "r");
  try {
    const c = new Cursor(fd, fs.fstatSync(fd).size);
    const header: OnnxHeader = { inputs: [], outputs: [], metadata: {} };
    const initializers = new Set<string>();
    let sawGraph = false;
    c.fields(c.size, (number, wireType) => {
      if (number === MODEL_GRAPH && wireType === 2) {
        sawGraph = true;
        const end = c.varint() + c.pos;
        c.fields(end, (g, gWire) => {
          if ((g === GRAPH_INPUT || g === GRAPH_OUTPUT) && gWire === 2) (g === GRAPH_INPUT ? header.inputs : header.outputs).push(tensorInfo(c.bytes(c.varint())));
          else if (g === GRAPH_INITIALIZER && gWire === 2) {
            const tensorEnd = c.varint() + c.pos;
            c.fields(tensorEnd, (t, tWire) => {
              if (t === TENSOR_NAME && tWire === 2) initializers.add(c.bytes(c.varint()).toString("utf8"));
              else c.skip(tWire);
            });
          } else c.skip(gWire);
        });
      } else if (number === MODEL_METADATA && wireType === 2) {
        const entry = onnx.StringStringEntryProto.decode(c.bytes(c.varint()));
        header.metadata[entry.key] = entry.value;
      } else c.skip(wireType);
    });
    if (!sawGraph) throw new OnnxFormatError("it has no graph");
    // Older exporters also list the weights as graph inputs; onnxruntime (and so sherpa-onnx) feeds only the others.
    header.inputs = header.inputs.filter((i) => !initializers.has(i.name));
    return header;
  } catch (err) {
    if (err instanceof OnnxFormatError) throw err;
    throw new OnnxFormatError((err as Error).message);
  } finally {
    fs.closeSync(fd);
  }
}
