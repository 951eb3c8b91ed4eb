"""The inference layer: what it restores, what it imports, what it compiles."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import ROOT
from hwr_jax import checkpoints, inference
from hwr_jax.training import classifier as classifier_training
from hwr_jax.data import labels
from tests_helpers import tiny_workdir


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
  return tiny_workdir(tmp_path_factory.mktemp("classifier"))


def test_load_model_restores_the_trained_parameters_and_charset(classifier):
  model = inference.load_model(classifier)
  config = checkpoints.load_workdir_config(classifier)
  store = checkpoints.CheckpointStore(classifier, config.to_dict())
  state, meta = store.restore(classifier_training.create_train_state(config, 62, 4), "best")
  store.close()
  jax.tree.map(np.testing.assert_array_equal, model.params, state.params)
  assert model.charset == labels.BYCLASS_CHARS and model.name == "cnn"
  assert model.step == int(state.step) and model.epoch == meta["epoch"] == 1
  # The checkpoint records its charset (readers use it, not the label space).
  assert meta["charset"] == labels.BYCLASS_CHARS


def test_checkpoint_choice_and_errors(classifier, tmp_path):
  step = inference.load_model(classifier).step
  assert inference.load_model(classifier, "latest").step == step
  assert inference.load_model(classifier, str(step)).step == step
  with pytest.raises(inference.ModelLoadError, match=f"kept steps: \\[{step}\\]"):
    inference.load_model(classifier, "999")
  with pytest.raises(inference.ModelLoadError, match="'best', 'latest' or a step"):
    inference.load_model(classifier, "newest")
  with pytest.raises(inference.ModelLoadError, match="No best checkpoint.*Train first"):
    inference.load_model(str(tmp_path))
  with pytest.raises(inference.ModelLoadError, match="not a 'crnn' model"):
    inference.load_model(classifier, model_name="crnn")


def test_classify_pads_to_few_shapes_and_matches_the_model(classifier):
  model = inference.load_model(classifier)
  crops = np.random.default_rng(0).integers(0, 255, (21, 28, 28)).astype(np.uint8)
  probs = model.classify(crops)
  assert probs.shape == (21, 62) and np.allclose(probs.sum(1), 1, atol=1e-5)
  np.testing.assert_allclose(probs[:5], model.classify(crops[:5]), atol=1e-5)
  logits = model.logits(crops, batch_size=8)
  np.testing.assert_allclose(probs, jax.nn.softmax(logits), atol=1e-5)
  # 21 and 5 crops: batches of 32 and 16; nothing else was compiled.
  assert model.probabilities_fn._cache_size() == 2


READ_ONE_WORD = r"""
import json, sys
import numpy as np
import jax
events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
import hwr_jax
reader = hwr_jax.load_reader(sys.argv[1])
image = np.full((60, 160), 230, np.uint8)
image[15:45, 20:28] = 20
image[15:45, 60:80] = 20
reading = reader.read(image)
training = [m for m in ("optax", "sklearn", "matplotlib", "tqdm", "hwr_jax.training",
                        "hwr_jax.evaluators", "hwr_jax.run_log")
            if m in sys.modules]
print(json.dumps({"text": reading.text, "training_modules": training,
                  "misses": events.count("/jax/compilation_cache/cache_misses"),
                  "hits": events.count("/jax/compilation_cache/cache_hits")}))
"""


def test_reading_imports_no_training_code_and_compiles_once_per_cache(classifier, tmp_path):
  env = dict(os.environ, HWR_JAX_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=ROOT)

  def read_once():
    result = subprocess.run([sys.executable, "-c", READ_ONE_WORD, classifier], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])

  first, second = read_once(), read_once()
  assert first["training_modules"] == []
  assert len(first["text"]) == 2
  assert first["misses"] == 1               # one program: the batch of 16 crops
  assert second["misses"] == 0 and second["hits"] == 1 and second["text"] == first["text"]
  assert os.listdir(tmp_path / "cache" / "jax")


def test_read_many_equals_reading_one_at_a_time(classifier):
  import hwr_jax
  reader = hwr_jax.load_reader(classifier, compilation_cache=False)
  rng = np.random.default_rng(1)
  images = []
  for _ in range(5):
    image = np.full((50, 150), 225, np.uint8)
    for x in rng.integers(5, 130, 3):
      image[10:40, x:x + 8] = 25
    images.append(image)
  blank = np.full((50, 150), 225, np.uint8)
  many = reader.read_many(images[:2] + [blank] + images[2:])
  assert "no ink" in many[2].error and many[2].text == ""
  assert [r.text for r in many[:2] + many[3:]] == [reader.read(im).text for im in images]
  with pytest.raises(hwr_jax.readers.ImageError, match="no ink"):
    reader.read(blank)
