/** OpenAI's transcription upload: a multipart/form-data body read with busboy, bounded in size and in fields. */
import type { IncomingMessage } from "node:http";
import busboy from "busboy";
import { HttpError, onIncomplete } from "../shared/http";
import { mediaType } from "./http";

export interface Multipart {
  /** The part named `file`. */
  file?: Buffer;
  /** The other fields, in order (a name may repeat). */
  fields: [string, string][];
}

/** Read a multipart/form-data body: one `file` part (at most `maxBytes`) and at most 32 small fields. */
export function readMultipart(req: IncomingMessage, maxBytes: number): Promise<Multipart> {
  if (mediaType(req) !== "multipart/form-data") {
    return Promise.reject(new HttpError(400, "invalid_content_type", "send multipart/form-data with a `file` part and a `model` field"));
  }
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxBytes, files: 1, fields: 32, fieldSize: 64 * 1024 } });
    } catch {
      reject(new HttpError(400, "invalid_multipart", "send multipart/form-data with a `file` part"));
      return;
    }
    const out: Multipart = { fields: [] };
    let failed = false;
    const chunks: Buffer[] = [];
    const fail = (err: HttpError) => {
      if (failed) return;
      failed = true;
      chunks.length = 0;
      req.unpipe(parser);
      req.resume();
      reject(err);
    };
    // A body that ends inside a part errors the part's stream too ("Unexpected end of form"): every stream needs a listener.
    const malformed = () => fail(new HttpError(400, "invalid_multipart", "the multipart body is malformed or truncated"));
    onIncomplete(req, fail);
    parser.on("file", (name, stream) => {
      stream.on("error", malformed);
      if (name !== "file") {
        stream.resume();
        return;
      }
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("limit", () => fail(new HttpError(413, "file_too_large", `the file exceeds the limit of ${maxBytes} bytes`)));
      stream.on("close", () => {
        if (!failed) out.file = Buffer.concat(chunks);
      });
    });
    parser.on("field", (name, value) => out.fields.push([name, value]));
    parser.on("filesLimit", () => fail(new HttpError(400, "invalid_multipart", "send exactly one file")));
    parser.on("fieldsLimit", () => fail(new HttpError(400, "invalid_multipart", "too many form fields")));
    parser.on("error", malformed);
    parser.on("close", () => {
      if (!failed) resolve(out);
    });
    req.pipe(parser);
  });
}
