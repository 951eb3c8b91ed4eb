"""Settings shared by every character-classifier config."""

import ml_collections


def get_base_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0

  config.data = ml_collections.ConfigDict()
  config.data.source = "nist"           # nist | mnist | tfds | idx
  config.data.emnist_split = "balanced"  # nist/tfds: which official EMNIST split
  config.data.label_space = "balanced"  # the classes the model predicts
  config.data.nist_dir = "data/emnist"  # nist: folder with gzip.zip or the .gz files
  config.data.mnist_dir = "data/mnist"  # mnist: folder with MNIST's four .gz files
  config.data.download = True           # nist/mnist: download the files when absent
  config.data.tfds_name = ""             # tfds: "" for emnist/<emnist_split>; "mnist"
  config.data.tfds_data_dir = ""         # tfds: "" for TFDS's default folder
  # idx: any IDX files, with the label space they are written in.
  config.data.train_images = ""
  config.data.train_labels = ""
  config.data.test_images = ""
  config.data.test_labels = ""
  config.data.file_label_space = "byclass"       # label space of train files
  config.data.test_file_label_space = ""         # of test files; "": the same
  config.data.validation_fraction = 0.05  # last 5 % of train, for model selection
  config.data.max_train_examples = 0      # 0: all

  config.model = ml_collections.ConfigDict()
  config.model.name = "cnn"
  config.model.block_features = (32, 64)
  config.model.dense_features = 128
  config.model.dropout_rate = 0.25

  # Published protocol: Adam, lr 1e-3, sparse softmax cross-entropy.
  # Beyond it (to beat the published numbers): augmentation, cosine schedule.
  config.batch_size = 256
  config.eval_batch_size = 1024
  config.num_epochs = 20
  config.learning_rate = 1e-3
  config.schedule = "cosine"      # cosine (with warmup) | constant
  config.warmup_epochs = 0.5
  config.weight_decay = 0.0
  config.label_smoothing = 0.0

  config.augment = ml_collections.ConfigDict()
  config.augment.enabled = True
  config.augment.max_rotation_deg = 10.0
  config.augment.max_shear = 0.2
  config.augment.max_scale = 0.1
  config.augment.max_translate = 2.0

  config.log_every_steps = 50
  # A mean training loss above 3x the untrained model's (the run's first step)
  # is divergence: logged and marked in metrics.jsonl; True also stops the run.
  config.stop_on_divergence = True

  # Many processes (hosts): jax.distributed.initialize(). What is unset here
  # comes from JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID,
  # else from the cluster (SLURM, Open MPI, TPU pods). docs/training.md: 'Many hosts'.
  config.distributed = False
  config.coordinator_address = ""   # host:port of process 0
  config.num_processes = 0          # 0: not set here
  config.process_id = -1            # -1: not set here
  return config
