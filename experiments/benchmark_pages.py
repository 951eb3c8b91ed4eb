"""How long a user waits for a page: `hwr-read page.png` from the command line
against a bare `python -c "import jax"` start, measured in the same run
(interleaved, so the machine's drift hits both alike), and the warm seconds
per page in one process.

  python experiments/benchmark_pages.py --workdir=runs/iam_lines --pages=page1.png,page2.png
  python experiments/benchmark_pages.py --workdir=runs/iam_lines --iam=IAM_FOLDER   # validation pages

With --iam, the pages are validation writers' forms rebuilt from the word crops
(`hwr_jax/data/iam_pages.py`; never the test writers': this is about speed).
Prints one JSON object: the CPU, bare JAX start and hwr-read (second run on,
caches filled) medians over --repeats, their difference, and warm seconds per
page (median, max) with lines per page.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def cpu_name() -> str:
  try:
    for line in open("/proc/cpuinfo"):
      if line.startswith("model name"):
        flags = open("/proc/cpuinfo").read()
        return line.split(":", 1)[1].strip() + (", AVX-512" if "avx512f" in flags else
                                                 ", no AVX-512")
  except OSError:
    pass
  return "unknown"


def seconds(command: list[str]) -> float:
  start = time.perf_counter()
  subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
  return time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", required=True, help="a line model's workdir (or model name)")
  parser.add_argument("--pages", default="", help="page images, comma-separated")
  parser.add_argument("--iam", help="an IAM folder: read validation writers' rebuilt pages")
  parser.add_argument("--num_pages", type=int, default=10)
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args()
  pages = [p for p in args.pages.split(",") if p]
  if args.iam:
    import cv2

    from hwr_jax.data import iam_pages
    folder = tempfile.mkdtemp(prefix="pages-")
    chosen = [p for p in iam_pages.read_pages(args.iam) if p.split == "validation"]
    for page in chosen[:args.num_pages]:
      pages.append(os.path.join(folder, page.form + ".png"))
      cv2.imwrite(pages[-1], iam_pages.render_page(page))
  if not pages:
    parser.error("give --pages or --iam")
  read = [sys.executable, "-m", "hwr_jax.read", pages[0], f"--workdir={args.workdir}"]
  seconds(read)   # fills the caches: compiled programs, language resources
  bare, cli = [], []
  for _ in range(args.repeats):
    bare.append(seconds([sys.executable, "-c", "import jax"]))
    cli.append(seconds(read))

  from hwr_jax import readers, runtime
  runtime.set_xla_flags()
  import cv2
  reader = readers.load_reader(args.workdir)
  images = [cv2.imread(p, cv2.IMREAD_UNCHANGED) for p in pages]
  for image in images:   # every shape compiled
    reader.read(image)
  warm, lines = [], []
  for image in images:
    start = time.perf_counter()
    reading = reader.read(image)
    warm.append(time.perf_counter() - start)
    lines.append(len(reading.lines))
  print(json.dumps({
      "cpu": cpu_name(), "cores": os.cpu_count(), "page": os.path.basename(pages[0]),
      "bare_jax_start_s": round(statistics.median(bare), 2),
      "hwr_read_page_s": round(statistics.median(cli), 2),
      "hwr_read_minus_bare_jax_s": round(statistics.median(cli) - statistics.median(bare), 2),
      "warm_s_per_page_median": round(statistics.median(warm), 3),
      "warm_s_per_page_max": round(max(warm), 3), "pages": len(images),
      "lines_per_page_median": statistics.median(lines)}, indent=1))


if __name__ == "__main__":
  main()
