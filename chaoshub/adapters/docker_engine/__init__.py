"""The ``docker`` adapter: Pumba's fault set on the containers of one Docker host.

It talks to the Docker Engine API itself (the ``docker`` SDK) instead of running Pumba:
container faults (kill, stop, pause, restart, remove), network faults (tc netem, tbf,
iptables ``statistic``) in the container's network namespace through a helper container
or ``nsenter``, and stress-ng beside or inside the container. Faults are catalogued in
``chaoshub/catalog/docker/``; the backend config is :data:`config.CONFIG_SCHEMA`.

Checked against: podman 4.3.1's Docker-compatible API (Engine API 1.41, negotiated from
``GET /_ping``'s ``API-Version`` header), runc 1.1.5, cgroup v1, Debian 12 (kernel 6.18 without
``sch_netem``), docker SDK 7.2. The calls used are the ones Pumba makes (list, inspect,
kill, stop, start, pause, unpause, restart, remove, create, exec) plus volumes for the
ledger; all exist unchanged since Engine API 1.25, the oldest version it accepts. Against
Docker Engine itself it has not been run.

Safety: a selector must name containers or labels (never "all"); containers labelled
``chaoshub.skip=true`` or ``com.gaiaadm.pumba.skip=true`` are never touched (checked again at
inject); removing a container needs ``confirm: true``; network faults refuse containers on
the host's network namespace. Every inject is idempotent per execution id and every
recovery reverts only what that execution did (:mod:`.ledger`, :mod:`.network`).

What it cannot do:

- netem faults (delay, loss, duplicate, corrupt) on kernels without ``sch_netem``: they are
  reported unavailable by ``health()`` with the kernel's answer and refused, never faked
  (and so were not exercised here); ``network-rate`` uses ``tbf`` and
  ``network-loss-iptables`` netfilter, which do not need it;
- netem/tbf shape egress of one interface for all peers (Pumba's per-IP and per-port
  ``prio`` filters are not offered); iptables loss filters by address, port and protocol;
- held faults (pause, stop) have no dead-man switch on the Docker host: if the hub goes
  away they stay until it comes back and recovers (stress ends by its own timeout);
- a signal that does not end the container (``container-kill`` with ``SIGHUP``) leaves no
  trace on it: a retry with the same execution id is recognised through the ledger only,
  for a day;
- ``stress`` beside the target runs in a sibling cgroup with the target's limits copied;
  ``placement: inside`` shares the target's cgroup but needs ``sh`` and ``stress-ng`` in its
  image;
- network helpers need ``helper_image`` (sleep, tc, iptables) on the host or pullable, or
  the worker on the Docker host as root, in its pid namespace, for ``network_helper:
  nsenter``; each network inject/status/recover starts a short-lived helper (about half a
  second on podman). A helper whose worker was killed lingers until its execution is
  recovered, or until it ends after 300 s and the next helper on that host removes it.
"""

from chaoshub.adapters.docker_engine.adapter import DockerAdapter

__all__ = ["DockerAdapter"]
