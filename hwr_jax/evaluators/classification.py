"""Evaluating a character classifier: the metrics the published EMNIST
baselines report (accuracy, top-5, macro precision / recall / F1, macro
one-vs-rest ROC-AUC), a per-class report and a confusion matrix.

`evaluate_checkpoint` writes to the workdir:
  eval_<split>.json                 the metrics and the per-class report
  classification_report_<split>.txt the per-class report as text
  confusion_matrix_<split>.png      row-normalized confusion matrix
and prints a table.
"""

import json
import os

import jax
import numpy as np
from absl import logging
from scipy.special import log_softmax, softmax
from sklearn import metrics as skm

from hwr_jax import inference, parallel
from hwr_jax.data import sources
from hwr_jax.evaluators import plots


def classification_metrics(labels: np.ndarray, logits: np.ndarray) -> dict:
  """Accuracy, top-5 accuracy, loss, macro P/R/F1 and macro one-vs-rest ROC-AUC.

  Classes absent from `labels` are left out of the macro averages (as
  scikit-learn's `labels=` does), so a small test set still gives a number.
  """
  num_classes = logits.shape[-1]
  present = np.unique(labels)
  predictions = logits.argmax(-1)
  log_probs = log_softmax(logits.astype(np.float64), axis=-1)
  precision, recall, f1, _ = skm.precision_recall_fscore_support(
      labels, predictions, labels=present, average="macro", zero_division=0)
  result = {
      "num_examples": int(len(labels)),
      "accuracy": float((predictions == labels).mean()),
      "top5_accuracy": float(skm.top_k_accuracy_score(
          labels, logits, k=min(5, num_classes), labels=np.arange(num_classes))),
      "loss": float(-log_probs[np.arange(len(labels)), labels].mean()),
      "macro_precision": float(precision),
      "macro_recall": float(recall),
      "macro_f1": float(f1),
  }
  result["macro_roc_auc"] = macro_roc_auc(labels, softmax(log_probs, axis=-1))
  return result


def macro_roc_auc(labels: np.ndarray, probs: np.ndarray) -> float:
  """Mean over classes present (with both positives and negatives) of the
  one-vs-rest ROC-AUC."""
  aucs = [skm.roc_auc_score(labels == k, probs[:, k]) for k in np.unique(labels)
          if 0 < (labels == k).sum() < len(labels)]
  return float(np.mean(aucs)) if aucs else float("nan")


def per_class_report(labels: np.ndarray, logits: np.ndarray, charset: str,
                     as_text: bool = False):
  """Precision, recall, F1 and support of every class (dict, or text table)."""
  return skm.classification_report(
      labels, logits.argmax(-1), labels=np.arange(len(charset)),
      target_names=list(charset), output_dict=not as_text, zero_division=0, digits=4)


def confusion(labels: np.ndarray, logits: np.ndarray, num_classes: int) -> np.ndarray:
  return skm.confusion_matrix(labels, logits.argmax(-1), labels=np.arange(num_classes))


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

  results = classification_metrics(labels, logits)
  results.update(split=split, checkpoint_step=model.step, checkpoint_epoch=model.epoch)
  if jax.process_index() == 0:
    report = per_class_report(labels, logits, charset)
    report_text = per_class_report(labels, logits, charset, as_text=True)
    with open(os.path.join(workdir, f"classification_report_{split}.txt"), "w") as f:
      f.write(report_text)
    with open(os.path.join(workdir, f"eval_{split}.json"), "w") as f:
      json.dump({"metrics": results, "per_class": report}, f, indent=1)
    plots.confusion_matrix(confusion(labels, logits, len(charset)),
                           charset,
                           os.path.join(workdir, f"confusion_matrix_{split}.png"),
                           title=f"{split}, epoch {model.epoch}")
    print(format_table(results, f"{split} ({len(labels)} images), checkpoint "
                       f"'{checkpoint}' (epoch {model.epoch}, step "
                       f"{results['checkpoint_step']})"))
    print(f"\nPer-class report ({split}):\n{report_text}")
  return results
