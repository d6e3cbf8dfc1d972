#!/usr/bin/env bash
# Every lesson runs alone, as Colab and Kaggle open it: from the built wheel in a fresh environment, each notebook by
# itself in an empty folder (.ci/lessons_alone.py says how). Runs in the CI venv from the repository root.
set -uo pipefail
cd "$(dirname "$0")/../.."
python .ci/lessons_alone.py "$@"
