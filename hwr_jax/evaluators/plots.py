"""Figures written to the workdir: training curves and confusion matrices."""

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def training_curves(metrics_jsonl: str, out_png: str) -> None:
  """Loss per epoch, the validation score per epoch (a classifier's accuracy,
  a word reader's CER and WER) and against minutes of training (the
  score-per-CPU-minute view)."""
  from hwr_jax.run_log import epoch_records
  records = epoch_records(metrics_jsonl)
  if not records:
    return
  epochs = [r["epoch"] for r in records]
  words = "val_cer" in records[0]
  scores = [("val_cer", "val CER"), ("val_wer", "val WER")] if words else \
      [("train_accuracy", "train"), ("val_accuracy", "val")]
  fig, (ax_loss, ax_score, ax_time) = plt.subplots(1, 3, figsize=(14, 4))
  for split in ("train", "val"):
    if f"{split}_loss" in records[0]:
      ax_loss.plot(epochs, [r[f"{split}_loss"] for r in records], "o-", label=split)
  for key, label in scores:
    ax_score.plot(epochs, [100 * r[key] for r in records], "o-", label=label)
  minutes = [r["train_seconds"] / 60 for r in records]
  key, label = scores[-1] if not words else scores[0]
  values = [100 * r[key] for r in records]
  ax_time.plot(minutes, values, "o-", label=label)
  for r, m, v in zip(records, minutes, values):
    ax_time.annotate(str(r["epoch"]), (m, v), fontsize=7, xytext=(0, 4),
                     textcoords="offset points", ha="center")
  what = "error (%)" if words else "accuracy (%)"
  ax_loss.set(xlabel="epoch", ylabel="CTC loss" if words else "cross-entropy", title="loss")
  ax_score.set(xlabel="epoch", ylabel=what, title="validation" if words else "accuracy")
  ax_time.set(xlabel="minutes of training (epoch numbers marked)", ylabel=f"validation {what}",
              title=f"{'CER' if words else 'accuracy'} vs training time")
  for ax in (ax_loss, ax_score, ax_time):
    ax.grid(alpha=0.3)
    ax.legend()
  fig.tight_layout()
  fig.savefig(out_png, dpi=110)
  plt.close(fig)


def confusion_matrix(matrix: np.ndarray, charset: str, out_png: str,
                     title: str = "") -> None:
  """Row-normalized confusion matrix (rows: true class, columns: predicted)."""
  rows = matrix.sum(1, keepdims=True)
  norm = matrix / np.maximum(rows, 1)
  n = len(charset)
  fig, ax = plt.subplots(figsize=(0.22 * n + 2, 0.22 * n + 1.5))
  image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
  ax.set_xticks(range(n), list(charset), fontsize=7)
  ax.set_yticks(range(n), list(charset), fontsize=7)
  ax.set(xlabel="predicted", ylabel="true", title=title)
  fig.colorbar(image, ax=ax, fraction=0.03)
  fig.tight_layout()
  fig.savefig(out_png, dpi=110)
  plt.close(fig)
