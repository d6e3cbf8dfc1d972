"""Run the GPU tutorials (nbs/tutorials/*.ipynb) on the CPU, shrunk, to check that their cells work, not only that
their names exist (.ci/docs_check.py does that on every CI run). Opt-in, because it takes minutes:
`DOCS_SMOKE=1 bash .ci/steps/docs.sh`, or `python .ci/tutorials_smoke.py [cifar10] [fer2013]` in the CI venv.

Each code cell runs in one IPython shell (execnb, as nbdev_test does) in a temporary folder, after text
substitutions: made-up local data in place of the downloads (a saved `datasets` table with CIFAR-10's columns and
class names; a FER2013-style folder of class folders), the CPU instead of CUDA, no fp16, a few steps, tiny batches
and the tiny preset for CIFAR-10, `HOW = "one GPU"`. Cells that install, log in, push, download or need two GPUs are
skipped; the training cell runs twice, the second time as a new session that must resume.
About 6 minutes for both on 2 busy CPU cores."""
import sys, os, re, json, time, tempfile
os.environ.update(HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1', MPLBACKEND='Agg')
from pathlib import Path
import numpy as np
from PIL import Image
from execnb.shell import CaptureShell

root = Path(__file__).resolve().parent.parent
SKIP = ('!pip', 'nvidia-smi', 'notebook_launcher', 'accelerate launch', 'notebook_login', 'push_to_hub(', 'kaggle datasets', 'kaggle.json')
COMMON = [(r'HOW = "[^"]*"', 'HOW = "one GPU"'), (r'"cuda"', '"cpu"'), (r'mixed_precision="fp16"', 'mixed_precision="no"'), (r'train_batch_size=128', 'train_batch_size=16'),
          (r'num_epochs=\d+', 'num_epochs=1, max_train_steps=4'), (r'checkpointing_steps=2000', 'checkpointing_steps=2'),
          (r'save_images_epochs=5', 'save_images_epochs=1'), (r'num_inference_steps=\d+', 'num_inference_steps=3'),
          (r'--num_inference_steps \d+', '--num_inference_steps 3'), (r'--num_images_per_class 16', '--num_images_per_class 2'),
          (r'n_per_class=8', 'n_per_class=2'), (r'lr_warmup_steps=500', 'lr_warmup_steps=1'),
          (r'guidance_scale=2.0,', 'guidance_scale=2.0, num_inference_steps=2, num_images_per_class=1,'), (r'n_images=\d+', 'n_images=1')]
SUBS = {'cifar10': [(r'"uoft-cs/cifar10"', 'str(FAKE)'), (r'random_flip=True, preset="cifar10"', 'random_flip=True, preset="tiny"')],
        # FER keeps the small preset: that it takes 48 px is the point
        'fer2013': [(r'Path\("/kaggle/input/fer2013"\)', 'FAKE'), (r'data_dir = Path\("fer2013"\)', 'pass')]}
CIFAR = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
FER = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']

def fake_cifar(d):
    import datasets
    rng = np.random.default_rng(0)
    imgs = [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(40)]
    ds = datasets.Dataset.from_dict({'img': imgs, 'label': [i % 10 for i in range(40)]},
                                    features=datasets.Features(img=datasets.Image(), label=datasets.ClassLabel(names=CIFAR)))
    ds.save_to_disk(str(d/'cifar')); return d/'cifar'

def fake_fer(d):
    rng = np.random.default_rng(0)
    for split, n in (('train', 9), ('test', 2)):
        for name in FER:
            (d/'fer2013'/split/name).mkdir(parents=True)
            for k in range(n): Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(d/'fer2013'/split/name/f'{k}.jpg')
    return d/'fer2013'

def run(name):
    nb = json.loads((root/'nbs'/'tutorials'/f'{name}.ipynb').read_text())
    with tempfile.TemporaryDirectory() as d:
        d = Path(d); os.chdir(d)
        fake = fake_cifar(d) if name == 'cifar10' else fake_fer(d)
        sh = CaptureShell(); sh.run_cell(f'from pathlib import Path; FAKE = Path({str(fake)!r})')
        sh.run_cell('import matplotlib; matplotlib.use("Agg")')
        t0, bad = time.time(), 0
        for i, c in enumerate(nb['cells']):
            if c['cell_type'] != 'code': continue
            src = ''.join(c['source'])
            if any(s in src for s in SKIP): print(f'-- cell {i}: skipped ({src.splitlines()[0][:60]})'); continue
            for a, b in COMMON + SUBS[name]: src = re.sub(a, b, src)
            t = time.time()
            outs = sh.run(src)
            err = sh.exc
            if not err and 'train(config)' in src:   # a second session: resume_from_checkpoint="latest" must continue
                outs += sh.run(src); err = sh.exc
                if not err and not any('Resuming from' in ''.join(o.get('text', '')) for o in outs):
                    err = AssertionError('the second train(config) did not resume')
            print(f'{"FAIL" if err else "ok  "} cell {i} ({time.time() - t:.1f} s): {src.splitlines()[0][:70]}')
            if err: bad += 1; print('     ', type(err).__name__, str(err)[:600])
            for o in outs:
                if o['output_type'] == 'stream' and o['name'] == 'stdout': print('      |', ''.join(o['text'])[-300:].replace('\n', '\n      | '))
            if '!class_ddpm_sample' in src:
                print('      sample folder:', sorted(p.name for p in (d/'samples'/name).iterdir()) if (d/'samples'/name).exists() else 'MISSING')
        print(f'{name}: {bad} failing cells, {time.time() - t0:.0f} s; gifs: {sorted(p.name for p in (d/"gifs").glob("*"))[:3]}')
        os.chdir(root)
        return bad

if __name__ == '__main__':
    sys.exit(sum(run(n) for n in (sys.argv[1:] or ['cifar10', 'fer2013'])))
