"""The ``docker`` adapter: Pumba's fault set on the containers of one Docker host.

It talks to the Docker Engine API itself (the ``docker`` SDK), instead of running Pumba:
container faults (kill, stop, pause, restart, remove), network faults (tc netem, tbf,
iptables ``statistic``) in the container's network namespace through a helper container
or ``nsenter``, and stress-ng beside the container. Faults are catalogued in
``catalog/docker/``; the backend config is :data:`config.CONFIG_SCHEMA`.

Checked against: podman 4.3.1's Docker-compatible API (Engine API 1.41, negotiated with
``version="auto"``), Debian 12, runc, cgroup v1, with the docker SDK 7.x. The calls used are
those Pumba makes (list, inspect, kill, stop, start, pause, unpause, restart, remove,
create, exec, volumes) and exist unchanged since Engine API 1.25.

Safety: a selector must name containers or labels (never "all"); containers labelled
``chaoshub.skip=true`` or ``com.gaiaadm.pumba.skip=true`` are never touched; removing a
container needs ``confirm: true``; every inject is idempotent per execution id and every
recovery reverts only what that execution did (see :mod:`.ledger`, :mod:`.network`).

What it cannot do:

- netem faults (delay, loss, duplicate, corrupt) on kernels without ``sch_netem``: they are
  reported unavailable by ``health()`` with the kernel's answer and refused, never faked;
  ``network-rate`` uses ``tbf`` and ``network-loss-iptables`` netfilter, which do not need it;
- netem/tbf only shape egress of one interface, for all peers (Pumba's per-IP and per-port
  ``prio`` filters are not offered); iptables loss filters by address, port and protocol;
- a signal that does not end the container (``container-kill`` with ``SIGHUP``) cannot be
  seen afterwards: a retry with the same execution id is recognised through the ledger
  only, for a day;
- stress-ng runs in a sibling cgroup of the target with the target's limits copied, not
  inside the target's own cgroup; "inside the container" (exec) is not offered;
- network helpers need ``helper_image`` (tc + iptables) on the host or pullable, or the
  worker on the Docker host as root for ``network_helper: nsenter``.
"""

from adapters.docker_engine.adapter import DockerAdapter

__all__ = ["DockerAdapter"]
