/**
 * Live options the session performs, with Deepgram's semantics, on a session whose two collaborators are stand-ins:
 * a decoder that hears a fixed utterance with fillers in it (pocketsphinx does not recognise Flite's "um" and "uh",
 * so no test audio makes the real one produce them) and a VAD that calls any non-zero frame speech. What is under
 * test is the session: which words its results carry, interims and finals alike.
 */
import type { UtteranceDecoder } from "../../src/engines/engine";
import { makeTranscript } from "../../src/engines/engine";
import { StreamSession } from "../../src/engines/streaming";
import type { StreamResult, Transcript } from "../../src/engines/types";
import type { SpeechDetector } from "../../src/engines/vad";
import { LIVE_DEFAULTS, type LiveOptions } from "../../src/params/deepgram-listen";

const RATE = 16000;
const HEARD = ["so", "um", "i", "want", "uh", "a", "pizza"];

/** Hears HEARD, word by word 0.1 s apart, whatever the audio. */
class FixedDecoder implements UtteranceDecoder {
  accept(): void {}
  partial(): Transcript {
    return this.finish();
  }
  finish(): Transcript {
    return makeTranscript(HEARD.map((word, i) => ({ word, start: i / 10, end: i / 10 + 0.08, confidence: 0.9 })), HEARD.length / 10, "en");
  }
  free(): void {}
}

/** Speech while frames are non-zero; the utterance ends at the first silent frame after speech. */
class NonZeroDetector {
  readonly minSpeechSamples = 0;
  inSpeech = false;
  accept(frame: Float32Array): boolean {
    const speech = frame.some((x) => x !== 0);
    const ended = this.inSpeech && !speech;
    this.inSpeech = speech;
    return ended;
  }
  reset(): void {}
}

/** A second of "speech" then half a second of silence: the results of one utterance, interims and its final. */
function results(options: Partial<LiveOptions>): StreamResult[] {
  const live = { ...LIVE_DEFAULTS, interim_results: true, ...options };
  const session = new StreamSession(new FixedDecoder(), new NonZeroDetector() as unknown as SpeechDetector, RATE, "en", live, 250, () => undefined);
  const events = [...session.push(new Float32Array(RATE).fill(0.1)), ...session.push(new Float32Array(RATE / 2))];
  return events.filter((e): e is StreamResult => e.kind === "result");
}

test("filler_words: uh and um are dropped from interims and finals unless the client asks for them", () => {
  const dropped = results({});
  expect(dropped.some((r) => !r.isFinal)).toBe(true);
  expect(dropped.filter((r) => r.isFinal)).toHaveLength(1);
  for (const r of dropped) {
    expect(r.transcript.text).toBe("so i want a pizza");
    expect(r.transcript.words.map((w) => w.word)).toEqual(["so", "i", "want", "a", "pizza"]);
  }
  const kept = results({ filler_words: true });
  expect(kept.filter((r) => r.isFinal)).toHaveLength(1);
  for (const r of kept) expect(r.transcript.words.map((w) => w.word)).toEqual(HEARD);
});
