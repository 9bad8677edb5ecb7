#!/usr/bin/env bash
# Connection load on one imhotep process (loopback only, about a minute): 8,000 idle keep-alive
# connections and 1,000 slowloris sockets while /healthz and a login are probed; prints RSS, probe
# results and when the server closed the slowloris sockets (see bench/connections.py).
#
#   bash bench/connections.sh                               # release binary, 8,000 idle + 1,000 slowloris, 20 s hold
#   bash bench/connections.sh --binary target/debug/imhotep --idle 500 --slowloris 100 --hold 12 --header-read-timeout 5
set -euo pipefail
cd "$(dirname "$0")/.."
# The client holds ~9,000 sockets: raise the soft descriptor limit to the hard one (the server raises its own).
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 10000 ]; then
  echo "connections.sh: the descriptor limit is $(ulimit -n); 8,000 idle + 1,000 slowloris sockets need ~10,000 (raise the hard limit)" >&2
fi
case " $* " in
  *" --binary "*) ;;
  *) cargo build --release --locked --bin imhotep ;;
esac
exec timeout -s TERM 200 python3 bench/connections.py "$@"
