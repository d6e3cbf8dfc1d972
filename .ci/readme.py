"""Write README.md from nbs/index.ipynb, or with --check fail when they differ.

nbdev_readme needs quarto, which cannot be installed on our machines, so this small converter
keeps README.md in step with the home page: markdown cells as they are, visible code cells as
fenced blocks with their printed output, and image links made relative to the repository root."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def _src(cell): return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']

def render(nb_path=root/'nbs'/'index.ipynb'):
    nb = json.loads(Path(nb_path).read_text())
    parts = ['<!-- Generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, not this file. -->']
    for cell in nb['cells']:
        src = _src(cell)
        if cell['cell_type'] == 'markdown':
            # relative links into the docs folder become links from the repository root
            src = re.sub(r'\]\((?!https?:|#|/)([^)]+)\)', lambda m: f'](nbs/{m.group(1)})', src)
            src = re.sub(r'src="(?!https?:|/)([^"]+)"', lambda m: f'src="nbs/{m.group(1)}"', src)
            parts.append(src.strip())
        elif cell['cell_type'] == 'code':
            lines = src.splitlines()
            directives = [l for l in lines if l.startswith('#|')]
            if any(re.match(r'#\|\s*(hide|include:\s*false|export)', d) for d in directives): continue
            code = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
            if not code: continue
            lang = 'sh' if all(l.startswith('!') for l in code.splitlines()) else 'python'
            if lang == 'sh': code = '\n'.join(l[1:].lstrip() for l in code.splitlines())
            parts.append(f'```{lang}\n{code}\n```')
            out = ''.join(''.join(o.get('text', '')) for o in cell.get('outputs', []) if o.get('output_type') == 'stream')
            if out.strip(): parts.append(f'```\n{out.rstrip()}\n```')
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    readme = root/'README.md'
    text = render()
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            sys.exit('README.md does not match nbs/index.ipynb: run `python .ci/readme.py` and commit README.md.')
        print('README.md matches nbs/index.ipynb')
    else:
        readme.write_text(text)
        print('wrote README.md')
