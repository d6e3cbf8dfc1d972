"""Lesson 06's animation: the sampling widget on the shipped default digits model, "all classes", 2 per class, the model's
saved sampler, steps and guidance, seed 0, the animation ticked; writes the GIF the widget shows to
nbs/images/06_generate.gif (the lesson shows that file, and draws the same run's final grid itself).

    python benchmarks/widget_gif.py                 # rewrites nbs/images/06_generate.gif (seconds)
    python benchmarks/widget_gif.py --out /tmp/x.gif
"""
import argparse
from pathlib import Path

import torch
from class_ddpm.assets import model_dir
from class_ddpm.pipeline import ClassConditionalPipeline
from class_ddpm.widget import ALL_CLASSES, SamplingWidget

IMAGE = Path(__file__).resolve().parents[1] / "nbs" / "images" / "06_generate.gif"

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=IMAGE, help="where to write the GIF")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    pipe = ClassConditionalPipeline.from_pretrained(model_dir("digits"))
    pipe.set_progress_bar_config(disable=True)
    w = SamplingWidget(pipe, n_per_class=2)  # as the lesson's cell builds it
    w.class_picker.value, w.animate.value = ALL_CLASSES, True
    w.generate()
    args.out.write_bytes(w.animation.value)
    print(f"wrote {args.out} ({len(w.animation.value):,} bytes)")

if __name__ == "__main__": main()
