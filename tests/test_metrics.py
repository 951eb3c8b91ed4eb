import numpy as np
import pytest

from hwr_jax.evaluators import classification as metrics


@pytest.mark.filterwarnings("ignore:.k. .3. greater than or equal")
def test_metrics_against_hand_computed_values():
  labels = np.array([0, 0, 1, 2])
  # Predictions: 0, 1, 1, 2 -> accuracy 3/4.
  logits = np.log(np.array([[0.7, 0.2, 0.1],
                            [0.3, 0.6, 0.1],
                            [0.1, 0.8, 0.1],
                            [0.2, 0.2, 0.6]]))
  m = metrics.classification_metrics(labels, logits)
  assert m["accuracy"] == pytest.approx(0.75)
  # Per class: precision (1, 1/2, 1), recall (1/2, 1, 1), F1 (2/3, 2/3, 1).
  assert m["macro_precision"] == pytest.approx((1 + 0.5 + 1) / 3)
  assert m["macro_recall"] == pytest.approx((0.5 + 1 + 1) / 3)
  assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
  assert m["top5_accuracy"] == 1.0                       # k = 3 classes: always right
  assert m["loss"] == pytest.approx(-np.mean(np.log([0.7, 0.3, 0.8, 0.6])))
  # One-vs-rest AUC. Class 0 scores: pos {0.7, 0.3}, neg {0.1, 0.2}: all pairs
  # ordered -> 1. Class 1: pos {0.8}, neg {0.2, 0.6, 0.2} -> 1. Class 2: pos
  # {0.6}, neg {0.1, 0.1, 0.1} -> 1.
  assert m["macro_roc_auc"] == pytest.approx(1.0)


def test_roc_auc_by_hand_with_a_misordered_pair():
  labels = np.array([0, 1, 0, 1])
  probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
  # Class 1 scores: pos {0.4, 0.8}, neg {0.1, 0.7}: 3 of 4 pairs ordered -> 0.75.
  # Class 0 scores: pos {0.9, 0.3}, neg {0.6, 0.2}: 3 of 4 -> 0.75.
  assert metrics.macro_roc_auc(labels, probs) == pytest.approx(0.75)


def test_top5_with_many_classes():
  labels = np.array([0, 1])
  logits = np.tile(-np.arange(10.0), (2, 1))   # ranking 0,1,2,...
  logits[1, 1] = -7.5                           # class 1 is 8th for example 2
  m = metrics.classification_metrics(labels, logits)
  assert m["accuracy"] == 0.5 and m["top5_accuracy"] == 0.5


def test_report_and_confusion():
  labels = np.array([0, 1, 1])
  logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
  np.testing.assert_array_equal(metrics.confusion(labels, logits, 2), [[1, 0], [1, 1]])
  report = metrics.per_class_report(labels, logits, "ab")
  assert report["b"]["recall"] == 0.5 and report["a"]["precision"] == 0.5
  assert "precision" in metrics.per_class_report(labels, logits, "ab", as_text=True)


def test_text_error_rates_with_punctuation_marks_as_words():
  """`wer` splits at spaces only; `wer_tokens` makes every punctuation mark a
  word (IAM's words), so a mark joined to its word or not is the same text."""
  from hwr_jax.evaluators.text import text_error_rates, tokens
  assert tokens("\"Mr. Brown's days . don't, anti-Negro") == \
      "\" Mr . Brown's days . don't , anti-Negro"
  rates = text_error_rates(["the days . It"], ["the days. It"])
  assert rates["wer"] == pytest.approx(2 / 4) and rates["wer_tokens"] == 0
  assert rates["cer"] == pytest.approx(1 / 13)
  assert text_error_rates(["the days ."], ["the day ,"])["wer_tokens"] == pytest.approx(2 / 3)
