"""CRNN + CTC word reader trained on real handwriting: IAM words.

  python launch.py --config=configs/iam_words.py --workdir=runs/iam \\
      --config.words.path=IAM_FOLDER

IAM_FOLDER holds words.txt, forms.txt and words/ as IAM distributes them
(`hwr_jax/data/iam.py`). Split by writer (no test writer is ever trained on):
writer id % 7 == 3 -> test, == 4 -> validation (model selection), others ->
training; words whose segmentation IAM marks 'ok'. The charset is the
training texts'. Evaluate on the test writers with --mode=evaluate (CER / WER
per decoder) or experiments/iam_words.py (the same, through hwr-read's reader).
"""

from configs import words


def get_config():
  config = words.get_config()
  config.model.backbone = "htr"
  config.model.backbone_features = (32, 64, 96, 96, 128, 128)
  config.model.dense_features = 192
  config.model.lstm_features = 192
  config.model.lstm_layers = 2
  config.model.dropout_rate = 0.25

  config.words.source = "iam"
  config.words.path = ""
  config.words.height = 32
  # Widths at height 32 (IAM words: median 64 px, 99th percentile 226).
  config.words.buckets = (32, 64, 96, 128, 192, 256, 384)
  config.words.max_label_length = 32
  # Also train (and select) on the same words cut from their rebuilt lines as
  # the page reader cuts them (`data/iam_pages.word_cut_files`): a word model
  # for re-reading pages' words (readers/crnn.py word_reader). Fine-tuned from
  # iam-words for 2 epochs, no measurable gain on pages (docs/pages.md).
  config.words.with_page_cuts = False

  config.batch_size = 64
  config.eval_batch_size = 128
  config.num_epochs = 20
  config.learning_rate = 1e-3
  config.warmup_epochs = 0.5
  config.log_every_steps = 20
  return config
