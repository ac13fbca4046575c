/** The `ebml` package ships no types; the decoder is a Transform emitting [kind, tag] tuples. */
declare module "ebml" {
  import { Transform } from "node:stream";
  export class Decoder extends Transform {}
}
