"""The fixed script that removes network faults a document left in place.

Sent with ``AWS-RunShellScript``; the hub interpolates nothing into it: it is the same
text for every run and takes no parameters. It

1. runs every rollback script an ``AWSFIS-Run-*`` document left under
   ``/var/lib/amazon/ssm`` (``Run-*-Rollback.sh``) — each one reverts its own fault only
   when the document no longer refreshes the fault's flag file, so a running document's
   fault is left alone;
2. if no network document is still running there (no fresh ``Run-Network-*.flag``),
   removes what tc and iptables faults leave: root qdiscs holding ``netem``, ingress
   redirects to an ``ifb`` device, the ``fault-in``/``fault-out`` iptables chains and the
   ``/etc/hosts`` lines the documents mark ``#delete-after-fault-injection``;
3. fails (exit 1, so the invocation is ``Failed``) when a netem qdisc or a fault chain
   remains, which the adapter reports as ``RecoveryFailed``.

``CHAOSHUB_SSM_DIR`` overrides the folder, for the script's own tests.
"""

from __future__ import annotations

SCRIPT = r"""#!/bin/sh
# Chaos Hub network rollback: fixed text, no parameters.
dir="${CHAOSHUB_SSM_DIR:-/var/lib/amazon/ssm}"
for script in "$dir"/Run-*-Rollback.sh; do
  [ -f "$script" ] || continue
  echo "running leftover rollback script $script"
  bash "$script" </dev/null &
done
wait
for flag in "$dir"/Run-Network-*.flag; do
  [ -f "$flag" ] || continue
  if [ $(( $(date +%s) - $(stat -c %Y "$flag") )) -le 10 ]; then
    echo "a network fault document is still running on this host ($flag)"
    exit 1
  fi
done
has_tc=0; command -v tc >/dev/null 2>&1 && has_tc=1
has_ipt=0; command -v iptables >/dev/null 2>&1 && has_ipt=1
if [ "$has_tc" = 1 ]; then
  for dev in $(ls /sys/class/net); do
    if tc qdisc show dev "$dev" 2>/dev/null | grep -q netem; then
      echo "removing the root qdisc holding netem on $dev"
      tc qdisc del dev "$dev" root
    fi
    if tc filter show dev "$dev" parent ffff: 2>/dev/null | grep -q 'mirred.*ifb'; then
      echo "removing the ingress redirect on $dev"
      tc qdisc del dev "$dev" ingress
    fi
  done
fi
if [ "$has_ipt" = 1 ]; then
  for chain in fault-in fault-out; do
    iptables -n -L "$chain" >/dev/null 2>&1 || continue
    echo "removing iptables chain $chain"
    while iptables -D INPUT -j "$chain" 2>/dev/null; do :; done
    while iptables -D OUTPUT -j "$chain" 2>/dev/null; do :; done
    iptables -F "$chain" && iptables -X "$chain"
  done
fi
if [ -w /etc/hosts ] && grep -q '#delete-after-fault-injection' /etc/hosts; then
  sed -i '/#delete-after-fault-injection/d' /etc/hosts
fi
left=""
if [ "$has_tc" = 1 ]; then
  for dev in $(ls /sys/class/net); do
    tc qdisc show dev "$dev" 2>/dev/null | grep -q netem && left="$left netem@$dev"
  done
fi
if [ "$has_ipt" = 1 ]; then
  for chain in fault-in fault-out; do
    iptables -n -L "$chain" >/dev/null 2>&1 && left="$left iptables:$chain"
  done
fi
if [ -n "$left" ]; then
  echo "still present:$left"
  exit 1
fi
echo "no network fault left"
"""

DOCUMENT = "AWS-RunShellScript"


def parameters(timeout_seconds: int) -> dict[str, list[str]]:
    """AWS-RunShellScript's parameters for the script."""
    return {"commands": SCRIPT.splitlines(), "executionTimeout": [str(timeout_seconds)]}
