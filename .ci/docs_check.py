"""The documentation checks that need no quarto, run by .ci/steps/docs.sh (and by hand: `python .ci/docs_check.py`).

nbdev_docs = nbdev_proc_nbs (pure Python) + quarto (absent here). This script runs everything but quarto:

  proc        nbdev's own notebook processing (.ci/nbdev_private.proc_job + nbdev.serve_drv.main with FilterDefaults,
              exactly what `nbdev_proc_nbs` runs) on every notebook, into a temporary folder, not `_proc/`;
              then every exported function and class is on its lesson's page (a `show_doc` cell), and the
              widget lesson shows a picture (widgets cannot run on a static site).
  docstrings  every name in each module's `__all__` has its own docstring, and every parameter a docment
              (fastcore.docments, what `show_doc` renders); public methods are reported too.
  sidebar     nbs/_quarto.yml's sidebar lists pages that exist, lists every page, orders lessons by number
              (index, lessons, tutorials, results, then the Internals section with every page of nbs/internals/);
              nbs/nbdev.yml is what nbdev would write from settings.ini; the home page (README) links every page
              of the course (the Internals are reached through their sidebar section).
  tutorials   nbs/tutorials/ has its .notest marker; every `class_ddpm` module and name the tutorials use exists
              and is public (in `__all__`), every call to one (and to a method of an instance of one) binds to
              its signature, every field set on a config exists, every command line (`class_ddpm_train`,
              `class_ddpm_sample`, `-m class_ddpm.X`, in `!` cells and sh blocks) parses with the real argparse
              parser, each tutorial has its two badges, states its GPU time and links only pages of the docs site
              that exist, and each name is also used by a tested lesson (so a change that breaks it breaks a test).
  selftest    the tutorial check finds each of a dozen mistakes planted in a made-up notebook, and passes a good one.

The tutorials' cells can also be run, shrunk, on the CPU: .ci/tutorials_smoke.py (opt-in, minutes).

Usage: python .ci/docs_check.py [proc] [docstrings] [sidebar] [tutorials] [selftest]   (none given: all)
Exit status 1 when any check fails. Run from anywhere; it works in the repository root."""
import ast, argparse, contextlib, dataclasses, importlib, inspect, io, json, os, re, shlex, sys, tempfile, time, traceback
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nbs = root/'nbs'
lib = 'class_ddpm'
TUTORIALS = nbs/'tutorials'
BADGES = {'Colab': 'https://colab.research.google.com/github/class-ddpm/class_ddpm/blob/main/nbs/tutorials/{}',
          'Kaggle': 'https://kaggle.com/kernels/welcome?src=https://github.com/class-ddpm/class_ddpm/blob/main/nbs/tutorials/{}'}

def _src(cell): return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']
def _cells(path): return json.loads(Path(path).read_text())['cells']
def _rel(p): return Path(p).relative_to(root) if Path(p).is_absolute() and Path(p).is_relative_to(root) else p

class Report:
    "Collects failures (which fail the step) and notes (reported, not failing) under a heading."
    def __init__(self, name): self.name, self.fails, self.notes = name, [], []
    def fail(self, msg):
        if msg not in self.fails: self.fails.append(msg)
    def note(self, msg): self.notes.append(msg)
    def show(self):
        status = 'FAIL' if self.fails else 'ok'
        print(f'\n== {self.name}: {status} ({len(self.fails)} failures, {len(self.notes)} notes)')
        for m in self.fails: print('  FAIL', m)
        for m in self.notes: print('  note', m)

# ---------------------------------------------------------------------------------------------------- proc
def _proc_one(item):
    "Run nbdev's processing of one notebook (what nbdev_proc_nbs does for it) in a spawned worker, as nbdev does."
    src, dst, _ = item
    from nbdev.serve_drv import main
    from nbdev.processors import FilterDefaults
    import warnings
    t = time.time()
    with warnings.catch_warnings(record=True) as ws, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter('always')
        try: main((Path(src), Path(dst), FilterDefaults)); err = None
        except BaseException as e:
            os.environ.pop('IN_TEST', None)
            cause = e.__cause__ or e
            err = f'{e}\n    caused by: {type(cause).__name__}: {cause}'.strip()[-1500:]
    mixed = [str(w.message).split('---')[1].strip().splitlines()[0] for w in ws if 'imports and other code' in str(w.message)]
    return str(src), err, time.time() - t, mixed

def check_proc(rep, out_dir):
    "Process every notebook as `nbdev_proc_nbs` does, into `out_dir`; then check the rendered pages."
    from nbdev.doclinks import nbglob
    from nbdev_private import proc_job
    files = nbglob(nbs, func=Path, file_glob='', file_re='')   # the same file list proc_nbs uses
    for extra in ('_quarto.yml', '_brand.yml'):
        if (nbs/extra).exists(): files.append(nbs/extra)
    jobs = [o for o in (proc_job(f, cache=out_dir, path=nbs) for f in files) if o]  # others are copied
    jobs = [(str(s), str(d), None) for s, d, _ in jobs]
    if not jobs: rep.fail('no notebook to process'); return {}
    workers = int(os.environ.get('DOCS_CHECK_WORKERS', min(2, os.cpu_count() or 1)))
    with ProcessPoolExecutor(workers, mp_context=get_context('spawn')) as ex:
        results = list(ex.map(_proc_one, jobs))
    for src, err, secs, mixed in results:
        if err: rep.fail(f'{_rel(src)}: nbdev processing failed ({secs:.0f} s):\n      ' + err.replace('\n', '\n      '))
        else: rep.note(f'{_rel(src)} processed in {secs:.1f} s')
        for first in mixed:   # nbdev runs such cells to render the page: keep imports in their own cells
            rep.note(f'{_rel(src)}: a cell mixes imports and other code, so the docs build runs it (starts `{first[:60]}`)')
    done = {Path(s): Path(d) for (s, d, _), r in zip(jobs, results) if not r[1]}
    _check_pages(rep, done)
    return done

def _default_exp(nb_path):
    for c in _cells(nb_path):
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', _src(c), re.M) if c['cell_type'] == 'code' else None
        if m: return m.group(1)

def _check_pages(rep, done):
    "Each exported def/class gets a show_doc cell with output on its page; the widget page shows a picture."
    for src, dst in sorted(done.items()):
        mod = _default_exp(src)
        if not mod: continue
        cells = _cells(dst)
        shown = set()
        for c in cells:
            if c['cell_type'] != 'code': continue
            for m in re.finditer(r'^show_doc\(\s*([\w.]+)', _src(c), re.M):
                if c.get('outputs'): shown.add(m.group(1))
        try: m = importlib.import_module(f'{lib}.{mod}')
        except Exception as e: rep.fail(f'{_rel(src)}: cannot import {lib}.{mod}: {e}'); continue
        for nm in getattr(m, '__all__', []):
            o = getattr(m, nm, None)
            if getattr(o, '__module__', m.__name__) != m.__name__: continue  # a re-export: documented on its own module's page
            if (inspect.isfunction(o) or inspect.isclass(o)) and nm not in shown:
                rep.fail(f'{_rel(src)}: {nm} has no show_doc output on its page (is its #| export cell hidden?)')
    for src, dst in done.items():
        if src.name.startswith('06_widget'):
            text = Path(dst).read_text()
            if not ('image/png' in text or 'image/gif' in text or re.search(r'!\[[^\]]*\]\(|<img ', text)):
                rep.fail(f'{_rel(src)}: the widget page shows no picture of the widget (widgets cannot run on the static site)')

# ---------------------------------------------------------------------------------------------- docstrings
def _modules():
    return sorted(p.stem for p in (root/lib).glob('*.py') if not p.stem.startswith('_'))

def _own_doc(o):
    d = o.__dict__.get('__doc__') if inspect.isclass(o) else getattr(o, '__doc__', None)
    if inspect.isclass(o) and dataclasses.is_dataclass(o) and d and d.startswith(o.__name__ + '('): d = None  # generated
    return (d or '').strip()

def _undocumented(o, skip_first=False):
    "Parameter names of `o` with no docment (for a dataclass: the fields it declares itself, not inherited ones)."
    from fastcore.docments import docments
    try: ds = docments(o, full=True, args_kwargs=True)
    except Exception as e: return [f'<docments failed: {e}>']
    names = [k for k in ds if k != 'return']
    if inspect.isclass(o) and dataclasses.is_dataclass(o): names = [k for k in names if k in o.__dict__.get('__annotations__', {})]
    if skip_first and names and names[0] in ('self', 'cls'): names = names[1:]
    return [k for k in names if k not in ('self', 'cls') and not ds[k]['docment']]

def check_docstrings(rep, gaps):
    mods = _modules()
    if not mods: rep.fail(f'no module in {lib}/'); return
    rep.note('modules checked: ' + ', '.join(mods))
    for mod in mods:
        name = f'{lib}.{mod}'
        try: m = importlib.import_module(name)
        except Exception as e: rep.fail(f'{name}: import failed: {type(e).__name__}: {e}'); gaps.append((name, None, f'import failed: {e}', True)); continue
        if not hasattr(m, '__all__'): rep.fail(f'{name}: no __all__ (export cells missing?)'); continue
        for nm in m.__all__:
            o = getattr(m, nm, None)
            if o is None and nm not in vars(m): rep.fail(f'{name}.{nm}: in __all__ but not defined'); continue
            if not (inspect.isfunction(o) or inspect.isclass(o)):
                rep.note(f'{name}.{nm}: {type(o).__name__}, not a function or class (no docstring to check)'); continue
            where = f'{name}.{nm}'
            if not _own_doc(o): rep.fail(f'{where}: no docstring'); gaps.append((name, nm, 'no docstring', True))
            if inspect.isfunction(o) or '__init__' in o.__dict__ or dataclasses.is_dataclass(o):
                und = _undocumented(o)
                if und: rep.fail(f'{where}: parameters without a docment: {", ".join(und)}'); gaps.append((name, nm, 'parameters without a docment: ' + ', '.join(und), True))
            if inspect.isclass(o):   # methods a user calls: reported, not failing
                for mn, f in o.__dict__.items():
                    f = f.__func__ if isinstance(f, (staticmethod, classmethod)) else f
                    if not inspect.isfunction(f) or (mn.startswith('_') and mn != '__call__'): continue
                    probs = []
                    if not (f.__doc__ or '').strip(): probs.append('no docstring')
                    und = _undocumented(f, skip_first=True)
                    if und: probs.append('parameters without a docment: ' + ', '.join(und))
                    if probs: rep.note(f'{where}.{mn}: ' + '; '.join(probs)); gaps.append((name, f'{nm}.{mn}', '; '.join(probs), False))

def write_gaps(gaps, reports, path):
    "Write the gaps a lead can hand to owners: docstring gaps, and pages nbdev cannot process."
    lines = ['# Docs gaps (written by `python .ci/docs_check.py --gaps=PATH`; owners fix them in their notebooks)', '',
             f'Generated {time.strftime("%Y-%m-%d %H:%M")}. "FAILS CI" rows make `.ci/steps/docs.sh` fail; "advice" rows do not',
             '(a method a reader calls, e.g. `__call__` or `generate`, deserves a docstring, docments and a `show_doc`).', '',
             '## Docstrings and docments', '']
    if not gaps: lines.append('No gaps: every exported function and class has a docstring and documented parameters.')
    for mod, nm, what, failing in gaps:
        lines.append(f'- {"FAILS CI" if failing else "advice"}: `{mod}{"." + nm if nm else ""}`: {what}')
    for r in reports:
        if r.name.startswith('docstrings'): continue
        if r.fails or any('mixes imports' in n for n in r.notes):
            lines += ['', f'## {r.name}', '']
            lines += ['- FAILS CI: ' + m.replace('\n', '\n  ') for m in r.fails]
            lines += ['- advice: ' + m for m in r.notes if 'mixes imports' in m]
    Path(path).write_text('\n'.join(lines) + '\n')

# ------------------------------------------------------------------------------------------------- sidebar
def _sidebar_entries(contents, section=None):
    for e in contents:
        if isinstance(e, str): yield section, e
        elif isinstance(e, dict):
            if 'href' in e: yield section, e['href']
            if 'contents' in e: yield from _sidebar_entries(e['contents'], e.get('section', section))

def _doc_pages():
    from nbdev.doclinks import nbglob
    return sorted(str(Path(p).relative_to(nbs)) for p in nbglob(nbs, func=Path, file_glob='', file_re=r'\.(?:ipynb|qmd)$'))

def check_sidebar(rep):
    import yaml
    q = yaml.safe_load((nbs/'_quarto.yml').read_text())
    contents = (((q or {}).get('website') or {}).get('sidebar') or {}).get('contents')
    if not contents: rep.fail('nbs/_quarto.yml has no website.sidebar.contents'); return
    entries = list(_sidebar_entries(contents))
    listed = [e for _, e in entries]
    for sec, e in entries:
        if not (nbs/e).exists(): rep.fail(f'sidebar lists {e} ({sec or "top"}), which does not exist')
    for p in _doc_pages():
        if p not in listed: rep.fail(f'{p} is a page of the site but not in the sidebar of nbs/_quarto.yml')
    if listed and listed[0] != 'index.ipynb': rep.fail(f'the sidebar should start with index.ipynb, not {listed[0]}')
    lessons = [e for e in listed if re.match(r'\d+_', e)]
    if lessons != sorted(lessons): rep.fail(f'lessons are not in numeric order: {lessons}')
    def kind(e): return ('lesson' if re.match(r'\d+_', e) else 'tutorial' if e.startswith('tutorials/')
                         else 'internals' if e.startswith('internals/') else e)
    order = [kind(e) for e in listed]
    firsts = [o for i, o in enumerate(order) if o not in order[:i]]
    want = [o for o in ['index.ipynb', 'lesson', 'tutorial', 'results.ipynb', 'internals'] if o in firsts]
    if [o for o in firsts if o in want] != want: rep.fail(f'sidebar order should be index, lessons, tutorials, results, internals: got {firsts}')
    if 'tutorial' not in order: rep.fail('no tutorial in the sidebar')
    for sec, e in entries:
        if kind(e) == 'internals' and sec != 'Internals': rep.fail(f'{e} should be in the sidebar section "Internals", not {sec or "top"}')
    # refresh_quarto_yml (run by nbdev_docs) rewrites nbdev.yml from settings.ini: keep them equal
    try:
        from nbdev.config import get_config
        from nbdev_private import nbdev_yml_template
        cfg = get_config(path=root)
        vals = {k: cfg[k] for k in ['title', 'description', 'branch', 'git_url', 'doc_host', 'doc_baseurl']}
        vals['doc_path'] = cfg.doc_path.name
        if (nbs/'nbdev.yml').read_text() != nbdev_yml_template.format(**vals):
            rep.note('nbs/nbdev.yml differs from what nbdev_docs writes from settings.ini (nbdev_docs rewrites it on deploy, '
                     'so settings.ini wins; refresh it with `python -c "from nbdev.quarto import refresh_quarto_yml as r; r()"`)')
    except Exception as e: rep.fail(f'nbdev.yml check failed: {e}')
    # the README (index.ipynb) links every page: a reader finds each lesson and tutorial one click away
    home = '\n'.join(_src(c) for c in _cells(nbs/'index.ipynb') if c['cell_type'] == 'markdown')
    links = set(re.findall(r'\]\(([^)#\s]+)', home)) | set(re.findall(r'href="([^"#]+)"', home))
    links = {l.removeprefix('./').removeprefix('nbs/') for l in links}
    def _linked(page):
        stem = page.rsplit('.', 1)[0]
        return any(l == page or l.rsplit('.', 1)[0] == stem or l.rstrip('/').endswith('/' + stem + '.html') for l in links)
    for e in listed:
        if e != 'index.ipynb' and kind(e) != 'internals' and not _linked(e):
            rep.fail(f'the home page (index.ipynb, README.md) does not link {e}')

# ----------------------------------------------------------------------------------------------- tutorials
class _Stop(Exception): pass

def _parser_of(entry):
    "The argparse parser an entry point `module:function` builds (caught as it parses, nothing runs)."
    mod, fn = entry.split(':')
    f = getattr(importlib.import_module(mod), fn)
    caught = {}
    orig = argparse.ArgumentParser.parse_known_args
    def grab(self, *a, **k): caught['p'] = self; raise _Stop()
    argparse.ArgumentParser.parse_known_args = grab
    try: f(['--help'])
    except _Stop: pass
    except SystemExit: pass
    finally: argparse.ArgumentParser.parse_known_args = orig
    if 'p' not in caught: raise RuntimeError(f'{entry} parses no argparse arguments')
    return caught['p']

def _console_scripts():
    from nbdev.config import get_config
    pairs = get_config(path=root).get('console_scripts', '').split()
    return dict(p.split('=', 1) for p in pairs if '=' in p)

def _code_and_shell(nb_path):
    "Yield (where, python_source, shell_lines) for each cell: IPython `!`/`%%bash` lines and fenced sh blocks in markdown become shell."
    for i, c in enumerate(_cells(nb_path)):
        src = _src(c)
        where = f'{_rel(nb_path)} cell {i}'
        if c['cell_type'] == 'markdown':
            shell = [l for b in re.findall(r'```(?:sh|bash|shell|console)\n(.*?)```', src, re.S) for l in _join(b)]
            py = '\n'.join(re.findall(r'```python\n(.*?)```', src, re.S))
            yield where, py, shell
        elif c['cell_type'] == 'code':
            if re.match(r'\s*%%(bash|sh|script)', src):
                yield where, '', _join(src.split('\n', 1)[1] if '\n' in src else ''); continue
            py, shell = [], []
            for l in _join(src, keep_lines=True):
                s = l.lstrip()
                if s.startswith('!'): shell.append(s[1:]); py.append(l[:len(l) - len(s)] + 'pass')
                elif s.startswith('%'): py.append(l[:len(l) - len(s)] + 'pass')
                else: py.append(l)
            yield where, '\n'.join(py), shell

def _join(text, keep_lines=False):
    "Join backslash-continued lines (keeping line count when `keep_lines`, for python sources)."
    out, buf = [], ''
    for l in text.split('\n'):
        if l.rstrip().endswith('\\') and (not keep_lines or buf or l.lstrip().startswith('!')):
            buf += l.rstrip()[:-1] + ' '
            if keep_lines: out.append('')
            continue
        out.append(buf + l); buf = ''
    if buf: out.append(buf)
    return [l for l in out if l.strip() or keep_lines]

_MISSING = object()

class _Names(ast.NodeVisitor):
    "Resolve every class_ddpm module, name, attribute, call and instance method a notebook's code uses."
    def __init__(self, rep, where, used):
        self.rep, self.where, self.used = rep, where, used
        self.env = {}   # local name -> ('obj', object, dotted) | ('inst', class, dotted)
    def _imp(self, mod):
        try: return importlib.import_module(mod)
        except ImportError as e: self.rep.fail(f'{self.where}: cannot import {mod}: {e}')
        except Exception as e: self.rep.fail(f'{self.where}: importing {mod} raised {type(e).__name__}: {e}')
    def visit_Import(self, node):
        for a in node.names:
            if a.name.split('.')[0] != lib: continue
            m = self._imp(a.name)
            if m is None: continue
            if a.asname: self.env[a.asname] = ('obj', m, a.name)
            else: self.env[lib] = ('obj', importlib.import_module(lib), lib)
    def visit_ImportFrom(self, node):
        if not node.module or node.module.split('.')[0] != lib or node.level: return
        m = self._imp(node.module)
        if m is None: return
        for a in node.names:
            if a.name == '*':
                for nm in getattr(m, '__all__', []): self.env[nm] = ('obj', getattr(m, nm), f'{node.module}.{nm}')
                continue
            o = getattr(m, a.name, _MISSING)
            if o is _MISSING:
                try: o = importlib.import_module(f'{node.module}.{a.name}')
                except ImportError: self.rep.fail(f'{self.where}: {node.module} has no name {a.name}'); continue
            self._public(m, a.name)
            self.env[a.asname or a.name] = ('obj', o, f'{node.module}.{a.name}')
            self.used.add(f'{node.module}.{a.name}')
    def _public(self, m, name):
        "A tutorial uses only the public API: names in the module's `__all__` (or submodules)."
        if inspect.ismodule(getattr(m, name, None)): return
        if name.startswith('_') or (hasattr(m, '__all__') and name not in m.__all__):
            self.rep.fail(f'{self.where}: {m.__name__}.{name} is not public (not in its __all__)')
    def _resolve(self, node):
        "('obj'|'inst', value, dotted) for a Name/Attribute chain rooted in class_ddpm, else None."
        if isinstance(node, ast.Name): return self.env.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            if base is None: return None
            kind, v, dotted = base
            d = f'{dotted}.{node.attr}'
            if kind == 'obj':
                o = getattr(v, node.attr, _MISSING)
                if o is _MISSING and inspect.ismodule(v):
                    try: o = importlib.import_module(d)
                    except ImportError: o = _MISSING
                if o is _MISSING: self.rep.fail(f'{self.where}: {dotted} has no attribute {node.attr}'); return None
                if inspect.ismodule(v) and v.__name__.startswith(lib): self.used.add(d); self._public(v, node.attr)
                return ('obj', o, d)
            o = inspect.getattr_static(v, node.attr, _MISSING)   # an instance: only class-level attributes are known
            if o is _MISSING and dataclasses.is_dataclass(v):
                if node.attr in {f.name for f in dataclasses.fields(v)}: return ('unknown', None, d)
                self.rep.fail(f'{self.where}: {v.__name__} has no field {node.attr}'); return None
            return ('obj', getattr(v, node.attr), d) if o is not _MISSING else ('unknown', None, d)
        return None
    def visit_Attribute(self, node):
        self._resolve(node)
    def visit_Call(self, node):
        r = self._resolve(node.func)
        target = None
        if r and r[0] == 'obj' and callable(r[1]): target, dotted, bound = r[1], r[2], False
        elif r and r[0] == 'inst':
            target, dotted, bound = getattr(r[1], '__call__', None), r[2] + '(...)', True
        if isinstance(node.func, ast.Attribute):
            base = self._instance_of(node.func.value) if isinstance(node.func.value, ast.Call) else self._resolve(node.func.value)
            if base and base[0] == 'inst':
                f = inspect.getattr_static(base[1], node.func.attr, _MISSING)
                if f is _MISSING: self.rep.fail(f'{self.where}: {base[1].__name__} instances have no method {node.func.attr}')
                target, dotted = getattr(base[1], node.func.attr, None), f'{base[2]}.{node.func.attr}'
                bound = not isinstance(f, (staticmethod, classmethod))
        if target is not None and not any(isinstance(a, ast.Starred) for a in node.args) and not any(k.arg is None for k in node.keywords):
            try: sig = inspect.signature(target)
            except (TypeError, ValueError): sig = None
            if sig is not None:
                args = [None] * len(node.args)
                if bound: args = [None] + args
                try: sig.bind(*args, **{k.arg: None for k in node.keywords})
                except TypeError as e: self.rep.fail(f'{self.where}: {dotted}({ast.unparse(node)[len(ast.unparse(node.func)) + 1:-1][:80]}): {e}')
        self.generic_visit(node)
    def _instance_of(self, v):
        "('inst', class, name) when expression `v` makes an instance of a class_ddpm class: C(...), C.from_pretrained(...), x.to(...)."
        if not isinstance(v, ast.Call): return None
        r = self._resolve(v.func)
        if r and r[0] == 'obj' and inspect.isclass(r[1]): return ('inst', r[1], r[2].rsplit('.', 1)[-1])
        if isinstance(v.func, ast.Attribute) and v.func.attr in ('from_pretrained', 'to'):
            b = self._resolve(v.func.value) if not isinstance(v.func.value, ast.Call) else self._instance_of(v.func.value)
            if b and b[0] == 'obj' and inspect.isclass(b[1]): return ('inst', b[1], b[2].rsplit('.', 1)[-1])
            if b and b[0] == 'inst' and v.func.attr == 'to': return b
    def visit_Assign(self, node):
        self.visit(node.value)
        kind = self._instance_of(node.value)
        for t in node.targets:
            if isinstance(t, ast.Name):
                if kind: self.env[t.id] = kind
                else: self.env.pop(t.id, None)
            elif isinstance(t, ast.Attribute):   # config.field = ...: the field must exist on a dataclass
                b = self._resolve(t.value)
                if b and b[0] == 'inst' and dataclasses.is_dataclass(b[1]) and t.attr not in {f.name for f in dataclasses.fields(b[1])}:
                    self.rep.fail(f'{self.where}: {b[1].__name__} has no field {t.attr}')
                self.visit(t.value)

def _check_shell(rep, where, line, scripts, parsers, used):
    "Parse the class_ddpm part of one shell command line with the real argparse parser."
    for cmd in re.split(r'&&|\|\||;|\|', line):
        try: toks = shlex.split(cmd, comments=True)
        except ValueError as e: rep.fail(f'{where}: cannot split shell line {cmd!r}: {e}'); continue
        entry, argv = None, None
        for i, t in enumerate(toks):
            if t in scripts: entry, argv = scripts[t], toks[i + 1:]; used.add(scripts[t].replace(':', '.')); break
            if t == '-m' and i + 1 < len(toks) and toks[i + 1].startswith(lib + '.'):
                mod = toks[i + 1]
                entry = next((e for e in scripts.values() if e.split(':')[0] == mod), f'{mod}:main')
                argv = toks[i + 2:]; used.add(entry.replace(':', '.')); break
            if re.fullmatch(rf'{lib}_\w+', t): rep.fail(f'{where}: {t} is not a console script of {lib} (settings.ini console_scripts)')
        if entry is None: continue
        argv = [a for a in argv if not re.fullmatch(r'\d?>>?.*|<.*', a)]   # drop redirections
        try:
            if entry not in parsers: parsers[entry] = _parser_of(entry)
            p = parsers[entry]
            p.allow_abbrev = False   # a tutorial spells each flag in full
        except Exception as e: rep.fail(f'{where}: cannot get the parser of {entry}: {type(e).__name__}: {e}'); continue
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()): p.parse_args(argv)
        except SystemExit as e:
            if e.code: rep.fail(f'{where}: `{entry.split(":")[0]} {" ".join(argv)[:120]}` does not parse: {err.getvalue().strip().splitlines()[-1]}')

def check_tutorials(rep, paths=None, tested=True):
    paths = sorted(TUTORIALS.glob('*.ipynb')) if paths is None else paths
    if not paths: rep.fail(f'no tutorial notebook in {_rel(TUTORIALS)}'); return
    if paths and Path(paths[0]).parent == TUTORIALS and not (TUTORIALS/'.notest').exists():
        rep.fail(f'{_rel(TUTORIALS)}/.notest is missing: nbdev_test would run the GPU tutorials')
    scripts, parsers = _console_scripts(), {}
    for p in paths:
        used = set()
        names = _Names(rep, _rel(p), used)
        for where, py, shell in _code_and_shell(p):
            names.where = where
            if py.strip():
                try: tree = ast.parse(py)
                except SyntaxError as e: rep.fail(f'{where}: not valid Python: {e}'); tree = None
                if tree: names.visit(tree)
            for line in shell: _check_shell(rep, where, line, scripts, parsers, used)
        text = Path(p).read_text()
        for badge, url in BADGES.items():
            if url.format(Path(p).name) not in text: rep.fail(f'{_rel(p)}: no "Open in {badge}" badge linking {url.format(Path(p).name)}')
        if not re.search(r'GPU[- ]time|GPU[- ]hours?|GPU[- ]minutes?', text, re.I): rep.fail(f'{_rel(p)}: does not state the GPU time it needs')
        if not used: rep.fail(f'{_rel(p)}: uses no {lib} name at all')
        _check_site_links(rep, p, text)
        rep.note(f'{_rel(p)} uses: ' + ', '.join(sorted(u.removeprefix(lib + '.') for u in used)))
        if tested: _check_tested(rep, p, used)

def _site_pages():
    "{url: notebook} of the docs site's pages (nbdev names them: 01_unet.ipynb -> unet.html)."
    from nbdev.config import get_config
    from nbdev_private import page_path
    cfg = get_config(path=root)
    base = f"{cfg.doc_host}{cfg.doc_baseurl}".rstrip('/') + '/'
    return base, {base + page_path(Path(p).relative_to(nbs)).as_posix(): p for p in _doc_pages_abs()}

def _doc_pages_abs():
    from nbdev.doclinks import nbglob
    return [Path(p) for p in nbglob(nbs, func=Path, file_glob='', file_re=r'\.(?:ipynb|qmd)$')]

def _check_site_links(rep, p, text):
    "Links into the docs site (absolute, so they work on Kaggle and Colab too) name pages that exist."
    base, pages = _site_pages()
    for url in sorted(set(re.findall(re.escape(base) + r'[^)\s"#]*', text))):
        if url.rstrip('/') + '/' != base and url not in pages: rep.fail(f'{_rel(p)}: links {url}, which is no page of the site')

def _check_tested(rep, p, used):
    "Each class_ddpm name a tutorial uses also appears in a tested notebook (so a change that breaks it breaks a test)."
    from nbdev.doclinks import nbglob
    tested = [Path(f) for f in nbglob(nbs, func=Path) if not any((d/'.notest').exists() for d in Path(f).parents if d.is_relative_to(nbs))]
    code = {f: '\n'.join(_src(c) for c in _cells(f) if c['cell_type'] == 'code') for f in tested}
    by_mod = {_default_exp(f): t for f, t in code.items()}
    everything = '\n'.join(code.values())
    scripts = {v.replace(':', '.'): k for k, v in _console_scripts().items()}
    for u in sorted(used):
        parts = u.split('.')
        if len(parts) == 3 and parts[2] == 'main':   # a command line: its lesson must run main(...) or the script
            text, pat = by_mod.get(parts[1], ''), rf'\bmain\(|{re.escape(scripts.get(u, "main("))}'
        else: text, pat = everything, rf'\b{re.escape(parts[-1])}\b'
        if not re.search(pat, text):
            rep.fail(f'{_rel(p)}: {u} is used by no tested lesson notebook' + (f' (its lesson, {parts[1]}, never calls main)' if parts[-1] == 'main' else ''))

# ------------------------------------------------------------------------------------------------ selftest
def check_selftest(rep):
    "The tutorial check must be able to fail: feed it a notebook with one of each mistake, expect each found."
    import types
    m = types.ModuleType(f'{lib}._selftest_mod')
    m.__all__ = ['f', 'C', 'D', 'main']
    @dataclasses.dataclass
    class D:
        steps: int = 1
    def f(a, b=1): return a
    class C:
        def __init__(self, x): self.x = x
        def go(self, n=1): return n
        def __call__(self, y): return y
        def to(self, device): return self
    def main(argv=None):
        p = argparse.ArgumentParser(); p.add_argument('--steps', type=int); p.add_argument('--mode', choices=['a', 'b'])
        return p.parse_args(argv)
    m.f, m.C, m.D, m.main, m._private = f, C, D, main, f
    sys.modules[m.__name__] = m
    good = [f'from {lib}._selftest_mod import f, C, D', 'f(1, b=2)', 'c = C(3)', 'c.go(n=2)', 'c(4)', 'd = D(steps=2); d.steps = 3',
            f'!python -m {lib}._selftest_mod --steps 3 --mode a']
    bad = {f'from {lib}._selftest_mod import no_such_name': 'has no name no_such_name',
           f'import {lib}.no_such_module': f'cannot import {lib}.no_such_module',
           'f(1, c=3)': "unexpected keyword argument 'c'",
           'c.nope()': 'have no method nope',
           f'from {lib}._selftest_mod import _private': 'is not public',
           'C(3).to("cuda").nope()': 'have no method nope',
           'd = D(); d.nope = 1': 'has no field nope',
           'C()': "missing a required argument: 'x'",
           f'!python -m {lib}._selftest_mod --step 3': 'does not parse',
           f'!python -m {lib}._selftest_mod --mode z': 'does not parse',
           f'if True:\n    !timeout 1h python -m {lib}._selftest_mod \\\n        --steps 3 --mod a': 'does not parse',
           f'!{lib}_no_such_script --x 1': 'is not a console script'}
    with tempfile.TemporaryDirectory() as d:
        def nb(lines, bad_link=False):
            cells = [{'cell_type': 'markdown', 'metadata': {}, 'source': 'GPU time: none. ' + ' '.join(u.format('t.ipynb') for u in BADGES.values())
                      + (' [x](https://class-ddpm.github.io/class_ddpm/no_such_page.html)' if bad_link else '')}]
            cells += [{'cell_type': 'code', 'metadata': {}, 'execution_count': None, 'outputs': [], 'source': l} for l in lines]
            p = Path(d)/'t.ipynb'
            p.write_text(json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))
            return p
        r = Report('selftest good'); check_tutorials(r, [nb(good)], tested=False)
        if r.fails: rep.fail('a correct notebook was refused: ' + ' | '.join(r.fails))
        r = Report('selftest link'); check_tutorials(r, [nb(good, bad_link=True)], tested=False)
        if not any('no page of the site' in x for x in r.fails): rep.fail(f'the check missed a link to a missing page: {r.fails}')
        for line, expect in bad.items():
            r = Report('selftest bad'); check_tutorials(r, [nb(good[:3] + [line])], tested=False)
            if not any(expect in x for x in r.fails): rep.fail(f'the check missed `{line}` (wanted "{expect}", got {r.fails})')
    del sys.modules[m.__name__]
    if not rep.fails: rep.note(f'{len(bad) + 1} planted mistakes all caught; a correct notebook passes')

# ---------------------------------------------------------------------------------------------------- main
def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    gaps_path = next((a.split('=', 1)[1] for a in argv if a.startswith('--gaps=')), None)
    todo = [a for a in argv if not a.startswith('--')] or ['proc', 'docstrings', 'sidebar', 'tutorials', 'selftest']
    os.chdir(root); sys.path.insert(0, str(root))
    os.environ.setdefault('MPLBACKEND', 'Agg')
    reports, gaps, t0 = [], [], time.time()
    for name in todo:
        rep, t = Report(name), time.time()
        try:
            if name == 'proc':
                with tempfile.TemporaryDirectory(prefix='class_ddpm_proc_') as d: check_proc(rep, Path(d))
            elif name == 'docstrings':
                check_docstrings(rep, gaps)
            elif name == 'sidebar': check_sidebar(rep)
            elif name == 'tutorials': check_tutorials(rep)
            elif name == 'selftest': check_selftest(rep)
            else: rep.fail(f'unknown check {name}')
        except Exception: rep.fail('the check itself crashed:\n' + traceback.format_exc())
        rep.name += f' [{time.time() - t:.0f} s]'
        rep.show(); reports.append(rep)
    if gaps_path: write_gaps(gaps, reports, gaps_path)
    bad = [r.name for r in reports if r.fails]
    print(f'\ndocs checks: {len(reports) - len(bad)} passed, {len(bad)} failed ({time.time() - t0:.0f} s)' + (f': {", ".join(bad)}' if bad else ''))
    return 1 if bad else 0

if __name__ == '__main__':
    # run as the importable module `docs_check`, so that spawned workers find `_proc_one` by name
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import docs_check
    sys.exit(docs_check.main())
