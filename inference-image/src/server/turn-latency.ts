/**
 * Per-turn latency as the server sees it (inference_turn_latency_seconds): from when a moment of the audio reached
 * the server (the end of speech, a speech onset) to when the answer about it left. Timing rests on arrival, not on
 * the stream clock, so a client that sends faster than real time does not make the server look slow or fast.
 */
import type { Histogram } from "prom-client";

/** What is timed: the stage of a turn, from the audio moment named first to the message named second. */
export type TurnStage = "speech_end_to_final" | "speech_end_to_end_of_turn" | "onset_to_first_interim" | "flush_to_first_audio";

/** Arrival marks kept per session: about a minute of 20 ms frames; older audio is never asked about. */
const MAX_MARKS = 3000;

export class TurnLatency {
  /** [stream seconds at the end of a chunk, wall time (ms) it arrived], in arrival order. */
  private marks: [number, number][] = [];
  private seconds = 0;

  constructor(
    private readonly histogram: Histogram<"route" | "team" | "stage">,
    private readonly labels: { route: string; team: string },
  ) {}

  /** A chunk of `seconds` of audio that arrived at `wallMs` (performance.now()) was decoded. */
  arrived(seconds: number, wallMs: number): void {
    if (seconds <= 0) return;
    this.seconds += seconds;
    this.marks.push([this.seconds, wallMs]);
    if (this.marks.length > MAX_MARKS) this.marks.splice(0, this.marks.length - MAX_MARKS);
  }

  /** The answer about the audio at stream second `at` leaves now. */
  observe(stage: TurnStage, at: number): void {
    const mark = this.marks.find(([until]) => until >= at - 1e-6);
    if (mark) this.histogram.observe({ ...this.labels, stage }, Math.max(0, (performance.now() - mark[1]) / 1000));
  }

  /** A wait measured directly (TTS: from a Flush to its first audio). */
  observeSince(stage: TurnStage, sinceMs: number): void {
    this.histogram.observe({ ...this.labels, stage }, Math.max(0, (performance.now() - sinceMs) / 1000));
  }
}
