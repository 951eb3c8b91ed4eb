"""Figures written to the workdir: training curves and confusion matrices."""

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def training_curves(metrics_jsonl: str, out_png: str) -> None:
  """Loss and accuracy per epoch, and validation accuracy against minutes of
  training (the accuracy-per-CPU-minute view)."""
  from hwr_jax.train_loop import epoch_records
  records = epoch_records(metrics_jsonl)
  epochs = [r["epoch"] for r in records]
  fig, (ax_loss, ax_acc, ax_time) = plt.subplots(1, 3, figsize=(14, 4))
  for split in ("train", "val"):
    ax_loss.plot(epochs, [r[f"{split}_loss"] for r in records], "o-", label=split)
    ax_acc.plot(epochs, [r[f"{split}_accuracy"] for r in records], "o-", label=split)
  minutes = [r["train_seconds"] / 60 for r in records]
  ax_time.plot(minutes, [100 * r["val_accuracy"] for r in records], "o-", label="val")
  for r, m in zip(records, minutes):
    ax_time.annotate(str(r["epoch"]), (m, 100 * r["val_accuracy"]), fontsize=7,
                     xytext=(0, 4), textcoords="offset points", ha="center")
  ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
  ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
  ax_time.set(xlabel="minutes of training (epoch numbers marked)",
              ylabel="validation accuracy (%)", title="accuracy vs training time")
  for ax in (ax_loss, ax_acc, ax_time):
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
