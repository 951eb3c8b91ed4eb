"""Evaluating a word (or line) reader: CER and WER per CTC decoder, overall,
on words never seen in training, and per kind of word (lowercase,
Capitalized, ALL CAPS, digits, punctuation), with texts (words or lines) per second.

`evaluate_checkpoint` (`launch.py --mode=evaluate` for a word model; the end
of its training, best path only) writes to the workdir:
  eval_<split>_words.json   the results per decoder, the texts and every hypothesis
and prints a table. The model's per-frame probabilities are computed once;
each decoder reads them with the language resources the CRNN reader uses
(`language/defaults.py`: never a validation or test text).
"""

import collections
import json
import os
import re
import time

import jax
import jiwer
import numpy as np

from hwr_jax import inference
from hwr_jax.ctc.text_decoder import DECODERS, TextDecoder
from hwr_jax.data import ink_sources, vocabulary, word_sources
from hwr_jax.language.defaults import decoder_resources

class EvaluationError(ValueError):
  """The evaluation asked for cannot be made (a decoder that does not fit the
  model, no words in the split)."""


KINDS = ("lowercase", "Capitalized", "ALL CAPS", "digits", "punctuation")
# IAM's words: a run of letters and digits (with ' or - inside it), or one
# punctuation mark. words.txt holds "," and "." as words of their own.
TOKEN = re.compile(r"\w+(?:['\-]\w+)*|[^\w\s]")


def tokens(text: str) -> str:
  """A text with every punctuation mark a word of its own: `wer_tokens`
  does not count "days." against "days ." (a line's truth joins a mark to its
  word or not by the gap between their IAM boxes, `iam_pages.joins`)."""
  return " ".join(TOKEN.findall(text))


def text_error_rates(references: list[str], hypotheses: list[str]) -> dict:
  """Character and word error rates (edit distance / reference length, over
  the whole set), case-sensitive and case-insensitive; `wer_tokens`: WER
  with punctuation marks as words (`tokens`)."""
  lower = lambda texts: [t.lower() for t in texts]
  return {"cer": float(jiwer.cer(references, hypotheses)),
          "wer": float(jiwer.wer(references, hypotheses)),
          "wer_tokens": float(jiwer.wer([tokens(t) for t in references],
                                        [tokens(t) for t in hypotheses])),
          "cer_ignoring_case": float(jiwer.cer(lower(references), lower(hypotheses))),
          "wer_ignoring_case": float(jiwer.wer(lower(references), lower(hypotheses)))}


def kind_of(text: str) -> str:
  """One of KINDS: what the letters of a word are, or digits / punctuation."""
  letters = [c for c in text if c.isalpha()]
  if not letters:
    return "digits" if any(c.isdigit() for c in text) else "punctuation"
  if len(letters) > 1 and all(c.isupper() for c in letters):
    return "ALL CAPS"
  if letters[0].isupper():
    return "Capitalized"
  return "lowercase"


def breakdown(texts: list[str], hypotheses: list[str], seen=None) -> dict:
  """CER of the words never seen in training (`seen`: the training
  vocabulary) and of each kind of word, with their counts."""
  groups = {"unseen_words": [t not in seen for t in texts]} if seen else {}
  kinds = [kind_of(t) for t in texts]
  groups.update({k: [kind == k for kind in kinds] for k in KINDS})
  out = {}
  for name, mask in groups.items():
    chosen = np.flatnonzero(mask)
    if len(chosen):
      out[f"cer_{name}"] = text_error_rates([texts[i] for i in chosen],
                                            [hypotheses[i] for i in chosen])["cer"]
      out[f"count_{name}"] = int(len(chosen))
  return out


# Decoders that read a whole text as one dictionary word: not for lines.
WORD_DECODERS = ("lexicon", "token_passing")


def decoders_for(charset: str, lines: bool = False) -> tuple[str, ...]:
  """Every decoder that reads this charset (word beam search: a charset with
  a space); for `lines`, not those that read the text as one word."""
  return tuple(d for d in DECODERS if (d != "word_beam" or " " in charset)
               and not (lines and d in WORD_DECODERS))


def read_with_decoders(probs: list[np.ndarray], texts: list[str], charset: str, decoders,
                       counts=None, model_seconds: float = 0.0, beam_width: int = 16,
                       lm_weight: float = 0.5, lm_lines=None, lines: bool = False
                       ) -> list[tuple[dict, list[str]]]:
  """(result, hypotheses) per decoder, from per-frame probability matrices.
  texts_per_second counts the model's time (`model_seconds`) and the decoder's.
  Words (not `lines`) are also broken down by kind and by seen in training."""
  rows = []
  for name in decoders:
    decoder = TextDecoder(charset, beam_width=beam_width, lm_weight=lm_weight,
                          **decoder_resources(name, counts, lm_lines=lm_lines))
    start = time.perf_counter()
    hypotheses = [decoder.decode(p, name)[0] for p in probs]
    seconds = model_seconds + time.perf_counter() - start
    result = {"decoder": name, **text_error_rates(texts, hypotheses),
              "texts_per_second": len(texts) / max(seconds, 1e-9),
              **({} if lines else breakdown(texts, hypotheses, counts))}
    rows.append((result, hypotheses))
  return rows


def format_table(results: list[dict], title: str) -> str:
  kinds = [k for k in ("unseen_words",) + KINDS if f"cer_{k}" in results[0]]   # (words only)
  head = "| decoder | CER | WER | CER ignoring case | texts/s | " + " | ".join(
      f"CER {k.replace('_', ' ')} ({results[0][f'count_{k}']})" for k in kinds) + " |"
  lines = [title, "", head, "|---|" + "---:|" * (4 + len(kinds))]
  for r in results:
    lines.append(f"| {r['decoder']} | {100 * r['cer']:.2f} % | {100 * r['wer']:.2f} % | "
                 f"{100 * r['cer_ignoring_case']:.2f} % | {r['texts_per_second']:.0f} | " +
                 " | ".join(f"{100 * r[f'cer_{k}']:.1f} %" for k in kinds) + " |")
  return "\n".join(lines)


def evaluate_checkpoint(config, workdir: str, checkpoint: str = "best", split: str = "test",
                        decoders=None, beam_width: int = 16, lm_weight: float = 0.5,
                        loaded=None) -> dict:
  """Reads the `split` words of `config`'s source (`word_sources.evaluation_words`;
  an ink model: lines, `ink_sources.evaluation_lines`) with a checkpoint
  ('best', 'latest' or a step) and each of `decoders` (default: all that fit
  the model). Refuses a checkpoint whose model differs from `config`.
  `loaded`: the word source training loaded (synthesized words are not made
  again). Returns {'split', 'what', 'checkpoint_step', 'decoders': {name: result}}."""
  ink = config.get("task") == "ink"
  model = inference.load_model(workdir, checkpoint, model_name="ink" if ink else "crnn",
                               expect_config=config)
  fitting = decoders_for(model.charset, lines=ink)
  decoders = tuple(decoders or fitting)
  unknown = [d for d in decoders if d not in fitting]
  if unknown:
    raise EvaluationError(f"Unknown or unfit decoders {unknown}; this model reads with "
                          f"{fitting}.")
  # The data from `config`, the input geometry from the model's own config.
  if ink:
    inputs, texts, what = ink_sources.evaluation_lines(config, split)
  else:
    inputs, texts, what = word_sources.evaluation_words(config, split, model.geometry, loaded)
  if not texts:
    raise EvaluationError(f"No {split} texts to evaluate on ({what}).")
  start = time.perf_counter()
  if ink:
    probs = model.ink_frame_probabilities(inputs, batch_size=config.eval_batch_size)
  else:
    probs = model.frame_probabilities(inputs, prepared=True, batch_size=config.eval_batch_size)
  model_seconds = time.perf_counter() - start
  counts = vocabulary.read(workdir) or collections.Counter()
  rows = read_with_decoders(probs, texts, model.charset, decoders, counts, model_seconds,
                            beam_width, lm_weight, vocabulary.read_lm_lines(workdir), lines=ink)
  results = {"split": split, "what": what, "checkpoint": checkpoint,
             "checkpoint_step": model.step, "checkpoint_epoch": model.epoch,
             "num_words": len(texts), "decoders": {r["decoder"]: r for r, _ in rows}}
  if jax.process_index() == 0:
    with open(os.path.join(workdir, f"eval_{split}_words.json"), "w") as f:
      json.dump({**results, "texts": texts,
                 "hypotheses": {r["decoder"]: h for r, h in rows}}, f, indent=1)
    print(format_table([r for r, _ in rows],
                       f"{len(texts)} {what}; checkpoint '{checkpoint}' (epoch {model.epoch}, "
                       f"step {model.step}); {os.cpu_count()} CPU cores"))
  return results
