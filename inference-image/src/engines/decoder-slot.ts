import type { UtteranceDecoder } from "./engine";

/**
 * A live stream's decoder and its pending replacement (a new vocabulary mid-stream). A replacement takes over
 * at once between utterances, else when the utterance in progress ends, since an utterance's audio is decoded
 * by one decoder. Every decoder the slot lets go of goes to `retire` (the worker pools or frees it).
 */
export class DecoderSlot {
  private pending: UtteranceDecoder | undefined;

  constructor(
    /** The decoder the utterance in progress (or the next one) is decoded with. */
    public current: UtteranceDecoder,
    private readonly retire: (decoder: UtteranceDecoder) => void,
  ) {}

  /** Decode with `decoder` from the next utterance on; `midUtterance`: one is in progress, so it waits for its end. */
  replace(decoder: UtteranceDecoder, midUtterance: boolean): void {
    this.dropPending();
    if (midUtterance) {
      this.pending = decoder;
      return;
    }
    this.retire(this.current);
    this.current = decoder;
  }

  /** An utterance ended: a pending replacement takes over. */
  utteranceEnded(): void {
    if (!this.pending) return;
    this.retire(this.current);
    this.current = this.pending;
    this.pending = undefined;
  }

  /** Retires a pending replacement (the stream closes); the current decoder is the caller's to hand back. */
  dropPending(): void {
    if (this.pending) this.retire(this.pending);
    this.pending = undefined;
  }
}
