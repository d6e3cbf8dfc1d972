#!/usr/bin/env bash
# Docs checks that need no quarto (the site itself is built by .github/workflows/deploy.yaml with nbdev_docs):
# nbdev's notebook processing on every notebook (into a temporary folder), every exported function and class
# documented (docstring + docments) and shown on its page, the sidebar, the home page's links, and the
# tutorials' class_ddpm names, calls and command-line flags. Details: .ci/docs_check.py. DOCS_SMOKE=1 also runs
# the tutorials' cells on the CPU, shrunk (.ci/tutorials_smoke.py, ~6 min). Runs in the CI venv
# from the repository root; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
export MPLBACKEND=${MPLBACKEND:-Agg} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
start=$(date +%s)
python -c "import nbdev, fastcore, class_ddpm" 2>/dev/null || {
  echo "docs.sh: python ($(command -v python)) cannot import nbdev and class_ddpm: activate the CI environment first"
  echo "         (.ci/run does; by hand: source .venv/bin/activate)"; exit 1; }
python .ci/docs_check.py "$@"
rc=$?
# Opt-in (minutes): run the tutorials' cells on the CPU, shrunk, with made-up data.
if [ "${DOCS_SMOKE:-0}" = 1 ]; then python .ci/tutorials_smoke.py || rc=1; fi
echo "docs.sh: $(( $(date +%s) - start )) s, exit $rc"
exit $rc
