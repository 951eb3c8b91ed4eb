"""Evaluating a checkpoint: metrics, per-class report, confusion matrix.

Writes to the workdir:
  eval_<split>.json                 the metrics and the per-class report
  classification_report_<split>.txt the per-class report as text
  confusion_matrix_<split>.png      row-normalized confusion matrix
and prints a table.
"""

import json
import os

import jax
from absl import logging

from hwr_jax import inference, metrics, parallel, plots
from hwr_jax.data import sources


def format_table(results: dict, title: str) -> str:
  rows = [("accuracy", "%.2f %%" % (100 * results["accuracy"])),
          ("top-5 accuracy", "%.2f %%" % (100 * results["top5_accuracy"])),
          ("loss", "%.4f" % results["loss"]),
          ("macro precision", "%.4f" % results["macro_precision"]),
          ("macro recall", "%.4f" % results["macro_recall"]),
          ("macro F1", "%.4f" % results["macro_f1"]),
          ("macro ROC-AUC (OvR)", "%.4f" % results["macro_roc_auc"]),
          ("examples", "%d" % results["num_examples"])]
  width = max(len(k) for k, _ in rows)
  lines = [title, "-" * (width + 14)]
  lines += [f"{k:<{width}}  {v:>10}" for k, v in rows]
  return "\n".join(lines)


def evaluate_checkpoint(config, workdir: str, checkpoint: str = "best",
                        split: str = "test", splits: sources.Splits | None = None) -> dict:
  """Evaluates a checkpoint of `workdir` ('best', 'latest' or a step number)
  on the test split (the validation split when the data has no test split).
  Refuses a checkpoint whose model or label space differs from `config`."""
  mesh = parallel.make_mesh()
  parallel.check_batch_size(config.eval_batch_size, mesh, "eval_batch_size")
  model = inference.load_model(workdir, checkpoint, model_name="cnn", expect_config=config)
  charset = model.charset

  if splits is not None:
    images_labels = splits.test if split == "test" else splits.validation
  elif split == "test":
    images_labels = sources.load_test(config.data)   # no need to read train
  else:
    images_labels = sources.load(config.data, with_test=False).validation
  if images_labels is None:
    logging.warning("The data config names no test split; evaluating on validation.")
    split = "validation"
    images_labels = (splits or sources.load(config.data, with_test=False)).validation
  images, labels = images_labels
  logits = model.logits(images, config.eval_batch_size, mesh)

  results = metrics.classification_metrics(labels, logits)
  results.update(split=split, checkpoint_step=model.step, checkpoint_epoch=model.epoch)
  if jax.process_index() == 0:
    report = metrics.per_class_report(labels, logits, charset)
    report_text = metrics.per_class_report(labels, logits, charset, as_text=True)
    with open(os.path.join(workdir, f"classification_report_{split}.txt"), "w") as f:
      f.write(report_text)
    with open(os.path.join(workdir, f"eval_{split}.json"), "w") as f:
      json.dump({"metrics": results, "per_class": report}, f, indent=1)
    plots.confusion_matrix(metrics.confusion(labels, logits, len(charset)),
                           charset,
                           os.path.join(workdir, f"confusion_matrix_{split}.png"),
                           title=f"{split}, epoch {model.epoch}")
    print(format_table(results, f"{split} ({len(labels)} images), checkpoint "
                       f"'{checkpoint}' (epoch {model.epoch}, step "
                       f"{results['checkpoint_step']})"))
    print(f"\nPer-class report ({split}):\n{report_text}")
  return results
