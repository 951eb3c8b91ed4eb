"""Writes a training run's model into the package as a pretrained model.

  python -m hwr_jax.pretrained.publish --workdir=runs/ondb --name=ondb-lines \\
      --task="lines of pen strokes" --data="IAM-OnDB, official split" \\
      --result="testset_f CER 6.26 % (best path)" [--dtype=float16] [--checkpoint=best] \\
      [--decoder=lexicon]

Writes hwr_jax/pretrained/NAME/: model.safetensors (the checkpoint's
parameters, fp16 or fp32), config.json, vocabulary.tsv and lm_lines.txt when
the run has them, SHA256SUMS and model.json (the summary above). The model
card, MODEL.md, is written by hand beside them: it holds measured numbers.
"""

import argparse
import json
import os
import sys


def main(argv=None) -> int:
  from hwr_jax import checkpoints, pretrained
  from hwr_jax.checkpoints.exported import write_exported
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--name", required=True)
  parser.add_argument("--task", required=True)
  parser.add_argument("--data", required=True)
  parser.add_argument("--result", required=True, help="the headline measured result")
  parser.add_argument("--dtype", choices=["float16", "float32"], default="float16")
  parser.add_argument("--checkpoint", default="best")
  parser.add_argument("--decoder", default="best_path",
                      choices=["best_path", "beam", "beam_lm", "lexicon", "token_passing",
                               "word_beam"], help="what hwr-read decodes with when no --decoder is given")
  args = parser.parse_args(argv)
  path, step = checkpoints.find_checkpoint(args.workdir, args.checkpoint)
  params, meta = checkpoints.restore_params(path)
  if not meta.get("charset"):
    print(f"error: {path} records no charset (a checkpoint of an old version): train again",
          file=sys.stderr)
    return 2
  folder = os.path.join(pretrained.FOLDER, args.name)
  files = write_exported(folder, args.workdir, params, {**meta, "step": step}, args.dtype)
  with open(os.path.join(folder, "model.json"), "w") as f:
    json.dump({"name": args.name, "task": args.task, "data": args.data, "result": args.result,
               "model": meta["config"]["model"]["name"], "dtype": args.dtype,
               "decoder": args.decoder}, f, indent=1)
  size = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
  print(f"{folder}: {', '.join(files)}, model.json; {size / 1e6:.2f} MB in all"
        + ("" if os.path.exists(os.path.join(folder, "MODEL.md")) else "; write MODEL.md"))
  return 0


if __name__ == "__main__":
  sys.exit(main())
