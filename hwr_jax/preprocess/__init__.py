"""The bottom layer: an image (or, later, ink) -> what a model reads, each
step in one place, used alike by data sources, trainers, inference and readers.

  image.py        grey, polarity, ink mask, ink box, "nothing to read" checks
  word_input.py   InputGeometry; a word image -> a word model's input
  characters.py   a word or line image -> EMNIST-like character crops
  drawing.py      canvas drawings made to look like scans
  augment.py      training distortions (characters on device, words on host)
"""
