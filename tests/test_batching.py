import numpy as np
import pytest

from hwr_jax.data import batching


def test_train_batches_are_full_shuffled_and_deterministic():
  x, y = np.arange(103)[:, None], np.arange(103)
  batches = list(batching.train_batches(x, y, 10, seed=1, epoch=0))
  assert len(batches) == 10 and all(b["image"].shape == (10, 1) for b in batches)
  seen = np.concatenate([b["label"] for b in batches])
  assert len(set(seen.tolist())) == 100                 # no repeats, remainder dropped
  again = list(batching.train_batches(x, y, 10, seed=1, epoch=0))
  np.testing.assert_array_equal(seen, np.concatenate([b["label"] for b in again]))
  other_epoch = list(batching.train_batches(x, y, 10, seed=1, epoch=1))
  assert not np.array_equal(seen, np.concatenate([b["label"] for b in other_epoch]))


def test_host_shards_partition_each_global_batch():
  x, y = np.arange(64)[:, None], np.arange(64)
  full = list(batching.train_batches(x, y, 16, seed=0, epoch=3))
  shards = [list(batching.train_batches(x, y, 16, 0, 3, shard_index=i, num_shards=4))
            for i in range(4)]
  for step, batch in enumerate(full):
    parts = np.concatenate([s[step]["label"] for s in shards])
    assert sorted(parts.tolist()) == sorted(batch["label"].tolist())


@pytest.mark.parametrize("num_shards", [1, 2])
def test_eval_batches_cover_everything_once_with_a_mask(num_shards):
  x, y = np.arange(23)[:, None], np.arange(23)
  seen = []
  for shard in range(num_shards):
    for b in batching.eval_batches(x, y, 8, shard, num_shards):
      assert b["image"].shape == (8 // num_shards, 1)
      seen += b["label"][b["mask"]].tolist()
  assert sorted(seen) == list(range(23))


def test_prefetch_keeps_order_and_reraises():
  assert list(batching.prefetch(iter(range(5)), lambda v: v * 2)) == [0, 2, 4, 6, 8]

  def broken():
    yield 1
    raise ValueError("bad batch")
  with pytest.raises(ValueError, match="bad batch"):
    list(batching.prefetch(broken(), lambda v: v))
