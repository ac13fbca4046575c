/**
 * Deepgram Flux's parameters (GET /v2/listen, developers.deepgram.com/reference/speech-to-text/listen-flux): the
 * query, with Flux's names, bounds and defaults, and what its clients send besides audio (Configure, ForceEndTurn,
 * CloseStream). server/flux.ts turns the thresholds into the engine's TurnOptions.
 */
import { z } from "zod/v4";
import { MAX_RATE, MIN_RATE, RAW_ENCODINGS, rawAudio } from "../audio/pcm";
import type { DeclaredAudio } from "../audio/upload";
import { flag, integer, number, text, withCode } from "./fields";
import { modelField } from "./models";

/** Flux's documented ranges and defaults. */
const eotThreshold = number(0.5, 1, "End-of-turn confidence that ends a turn (EndOfTurn); 1.0 leaves ending turns to ForceEndTurn and eot_timeout_ms");
const eagerThreshold = number(0.3, 0.9, "Confidence that announces an EagerEndOfTurn (and TurnResumed if speech goes on); off unless set");
const eotTimeout = integer(500, 60_000, "A pause this long (ms) after speech ends the turn whatever the confidence");

// How many terms and how long each may be is the engine's to say (it refuses more with a 400).
const keyterms = z.array(z.string().min(1).meta({ description: "A term (a word or a short phrase) the decoder is biased towards" }));

/** Why the thresholds do not go together, if they do not: the eager end must come no later than the end. */
export function thresholdsConflict(eot: number, eager: number | undefined): string | undefined {
  return eager !== undefined && eager > eot ? `eager_eot_threshold (${eager}) must not exceed eot_threshold (${eot})` : undefined;
}

export const fluxQuery = z
  .object({
    model: modelField("stt", "Model name: flux-general-en (an alias of this deployment's STT model) or the model's own name"),
    encoding: withCode(
      z.enum(RAW_ENCODINGS).optional().meta({ description: "Encoding of headerless audio; omit for containers (WAV, Ogg, WebM: recognised by their bytes)" }),
      "unsupported_encoding",
    ),
    sample_rate: integer(MIN_RATE, MAX_RATE, "Sample rate (Hz) of headerless audio; required with encoding").optional(),
    eot_threshold: eotThreshold.default(0.7),
    eager_eot_threshold: eagerThreshold.optional(),
    eot_timeout_ms: eotTimeout.default(5000),
    keyterm: keyterms.default([]).meta({ description: "Terms to recognise (repeat the parameter for several)" }),
    language_hint: text("Accepted; this deployment's model serves one language"),
    mip_opt_out: flag(false, "Accepted; nothing is retained for training here"),
    tag: text("Accepted; recorded nowhere"),
  })
  .superRefine((q, ctx) => {
    if (q.encoding !== undefined && q.sample_rate === undefined) ctx.addIssue({ code: "custom", path: ["sample_rate"], message: `encoding=${q.encoding} needs sample_rate` });
    const conflict = thresholdsConflict(q.eot_threshold, q.eager_eot_threshold);
    if (conflict) ctx.addIssue({ code: "custom", path: ["eager_eot_threshold"], message: conflict });
  });

export type FluxQuery = z.output<typeof fluxQuery>;

export function fluxDeclaredAudio(q: FluxQuery): DeclaredAudio | undefined {
  return q.encoding === undefined ? undefined : rawAudio(q.encoding, q.sample_rate!, 1);
}

export const fluxThresholds = z
  .object({ eot_threshold: eotThreshold.optional(), eager_eot_threshold: eagerThreshold.optional(), eot_timeout_ms: eotTimeout.optional() })
  .meta({ description: "New thresholds; one not given keeps its value" });

/** What a Flux client sends besides audio (text frames). */
export const fluxControlMessage = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("Configure"), thresholds: fluxThresholds.optional(), keyterms: keyterms.optional() }).meta({ description: "Change thresholds (at once) or keyterms (from the next turn) mid-stream; answered ConfigureSuccess or ConfigureFailure" }),
    z.object({ type: z.literal("ForceEndTurn") }).meta({ description: "End the turn in progress now (EndOfTurn with trigger manual)" }),
    z.object({ type: z.literal("KeepAlive") }).meta({ description: "Keeps an idle stream open" }),
    z.object({ type: z.literal("CloseStream") }).meta({ description: "End the turn in progress, send what is left, close" }),
  ],
  { error: "unknown control message type; expected Configure, ForceEndTurn, KeepAlive or CloseStream" },
);

export type FluxControlMessage = z.output<typeof fluxControlMessage>;
