"""Classification metrics as the published EMNIST baselines report them
(scikit-learn does the counting)."""

import jiwer
import numpy as np
from scipy.special import log_softmax, softmax
from sklearn import metrics as skm


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


def text_error_rates(references: list[str], hypotheses: list[str]) -> dict:
  """Character and word error rates (edit distance / reference length, over
  the whole set), case-sensitive and case-insensitive; jiwer counts."""
  lower = lambda texts: [t.lower() for t in texts]
  return {"cer": float(jiwer.cer(references, hypotheses)),
          "wer": float(jiwer.wer(references, hypotheses)),
          "cer_ignoring_case": float(jiwer.cer(lower(references), lower(hypotheses))),
          "wer_ignoring_case": float(jiwer.wer(lower(references), lower(hypotheses)))}
