"""The three private parts of nbdev 2.4.14 that the docs checks need, named in one place.

nbdev has no public call for them: the docs checks must process each notebook exactly as `nbdev_proc_nbs` does, compare
nbs/nbdev.yml with what `nbdev_docs` would write, and name each page's URL as the site does. If a newer nbdev moves or
renames one of these, this file is the only one to change (settings.ini pins nbdev==2.4.14).
"""
from nbdev.doclinks import _nbpath2html as page_path   # notebook path (relative to nbs/) -> its page's path on the site
from nbdev.quarto import _nbdev_yml as nbdev_yml_template  # the nbdev.yml that nbdev_docs writes, as a format string
from nbdev.serve import _proc_file as proc_job          # (source, destination, processor) of one file for nbdev_proc_nbs

__all__ = ["page_path", "nbdev_yml_template", "proc_job"]
