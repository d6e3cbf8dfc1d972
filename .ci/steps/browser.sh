#!/usr/bin/env bash
# Browser test of the sampling widget (lesson 06, class_ddpm.widget).
# Voila serves tests/browser/app.ipynb on a free localhost port; headless Chromium (Debian's package, driven by
# Selenium through Debian's chromedriver; nothing downloads a browser) picks a class, clicks Generate, checks that an
# image appears and changes with the class, and saves a screenshot of the widget to $WIDGET_SCREENSHOT (default:
# a temporary folder; nbs/images/widget.png is a copy of one). Voila, Selenium and ipykernel are test-only and are
# installed here into the active virtualenv, at the versions settings.ini pins (browser_requirements). Bounded: every
# install and wait has a timeout and the server is stopped on exit. Run from the repository root with the project's
# virtualenv active:  bash .ci/steps/browser.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${VIRTUAL_ENV:-}" ] || { echo "browser: activate the project's virtualenv first"; exit 1; }
start=$SECONDS
work=$(mktemp -d)
server_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM -- "-$server_pid" 2>/dev/null || true          # voila's own process group (setsid below)
  for _ in $(seq 20); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# 1. Debian's chromium and chromedriver (as root, or through sudo); skipped when both are there.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  echo "browser: installing chromium and chromium-driver from Debian"
  if ! { timeout 120 $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 300 $SUDO \
         apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core; } >"$work/apt.log" 2>&1; then
    tail -20 "$work/apt.log"; echo "browser: could not install chromium"; exit 1
  fi
fi

# 2. Test-only Python packages, pinned in settings.ini (browser_requirements), into the active virtualenv.
browser_reqs=$(python -c 'import configparser; c = configparser.ConfigParser(delimiters=["="]); c.read("settings.ini"); print(c["DEFAULT"]["browser_requirements"])')
if ! timeout 300 python -m pip install -q $browser_reqs >"$work/pip.log" 2>&1; then
  tail -20 "$work/pip.log"; echo "browser: could not install voila/selenium/ipykernel"; exit 1
fi

# 3. The python3 kernel runs this virtualenv's python: its kernelspec, written into the virtualenv with the absolute
#    path, and a private Jupyter home, so that no user's kernelspec or config can take its place.
unset JUPYTER_PATH
export JUPYTER_DATA_DIR="$work/jupyter/data" JUPYTER_CONFIG_DIR="$work/jupyter/config" JUPYTER_RUNTIME_DIR="$work/jupyter/runtime"
export MPLBACKEND=Agg HF_HUB_OFFLINE=1 SE_OFFLINE=true
python -m ipykernel install --sys-prefix --name python3 >/dev/null
python - <<'EOF'
import json, sys
from jupyter_client.kernelspec import KernelSpecManager
spec = KernelSpecManager().get_kernel_spec("python3")
assert spec.argv[0] == sys.executable, f"the python3 kernel runs {spec.argv[0]}, not {sys.executable}"
EOF

# 4. Voila on a free localhost port, in its own process group so that the trap stops it and its children.
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid voila tests/browser/app.ipynb --no-browser --Voila.ip=127.0.0.1 --port="$port" --Voila.port_retries=0 \
  --show_tracebacks=True >"$work/voila.log" 2>&1 &
server_pid=$!
if ! python - "$port" <<'EOF'
import socket, sys, time
deadline = time.time() + 60
while time.time() < deadline:
    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close(); sys.exit(0)
    except OSError: time.sleep(0.3)
sys.exit(1)
EOF
then tail -30 "$work/voila.log"; echo "browser: voila did not start"; exit 1; fi

# 5. The browser checks.
shot=${WIDGET_SCREENSHOT:-$(mktemp -d)/widget.png}
if timeout --kill-after=10 200 python tests/browser/check_widget.py "http://127.0.0.1:$port/" "$shot" --timeout 180; then
  echo "browser: passed in $((SECONDS - start)) s; screenshot $shot"
else
  echo "browser: FAILED; voila's log:"; tail -40 "$work/voila.log"; exit 1
fi
