#!/usr/bin/env bash
# The course's own rules, checked on what is committed: each lesson's teaching part within 1,500 words and 20 distinct
# numbers (.ci/lesson_budget.py), and every cell that shows something has stored what it shows, since the docs site and
# GitHub show stored outputs (.ci/outputs.py check), and every Colab or Kaggle badge opens its own notebook
# (.ci/badges.py, which also checks that every repository file a page shows by its raw address exists). Runs in the CI venv from the repository root.
set -uo pipefail
cd "$(dirname "$0")/../.."
rc=0
python .ci/lesson_budget.py || rc=1
python .ci/outputs.py check || rc=1
python .ci/badges.py || rc=1
exit $rc
