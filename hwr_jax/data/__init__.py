"""Data: IDX files, official NIST files, TFDS, label maps, batching."""
