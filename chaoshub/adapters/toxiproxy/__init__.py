"""The ``toxiproxy`` adapter: network faults through a Toxiproxy server's HTTP API.

A fault hits a *proxy*: Toxiproxy listens on ``listen`` and forwards TCP to ``upstream``,
so only clients that connect through the proxy see the fault. Every fault but ``down`` is
one toxic on that proxy; ``down`` disables the proxy (Toxiproxy closes its listener and
every open connection) and recovery enables it again.

Checked against the Toxiproxy HTTP API as read from Shopify/toxiproxy at f48fd7f (v2.12.0:
``api.go``, ``toxics/*.go``, ``proxy.go``): paths, status codes, JSON shapes, error bodies
(JSON sent as ``text/plain``) and attribute units. Updates use PATCH and fall back to POST
when the server answers 405 (servers before 2.6.0); ``/version`` is read as JSON (2.7.0+)
or as plain text (older). It has been exercised against the protocol-faithful fake in
``tests/toxiproxy/`` (answering as 2.12.0, and as 2.5.0 for the text ``/version`` and the
POST fallback), not against a running ``toxiproxy-server``. Attributes are checked to be
whole numbers within Go's int64 before anything is sent (``toxics.toxic_params``).

How the adapter finds its own work again (no state of its own; the handle is a courtesy):

- the toxic's name derives from the execution id (:func:`toxic_name`), so a retried inject
  meets its own toxic (409), compares it and adopts it, and a recovery without handle data
  deletes exactly that toxic (404 = already recovered);
- ``down`` leaves a ``noop`` toxic named after the execution on the proxy as its marker
  (toxics survive a disabled proxy); recovery enables the proxy only when this execution
  was the one that disabled it (a proxy found disabled gets a ``was-down`` marker instead
  and stays disabled);
- a proxy made for the run (``ensure_proxy`` in the selector) carries a ``noop`` marker
  toxic too, and recovery deletes the proxy only when that marker is there.

Selector: ``{"names": [...]}``, ``{"pattern": "<regex searched in the name>"}`` or
``{"ensure_proxy": {"name", "upstream", "listen"}}``, plus ``limit``. ``ensure_proxy``
creates the proxy when it is missing and adopts an existing proxy of that name with the same
upstream and listen port. ``listen`` defaults to ``127.0.0.1:0``, an ephemeral port on the
Toxiproxy host's loopback, reported in the status text; give an address clients can reach
(e.g. ``0.0.0.0:21212``) when Toxiproxy runs on another host or in a container.

What it cannot do:

- affect traffic that does not pass through a proxy; it cannot move clients onto one;
- say which connections a toxic hit: toxicity is drawn per connection and direction by
  Toxiproxy, which reports nothing about it;
- keep a proxy made by ``ensure_proxy`` through a pause: pausing recovers, which deletes it;
- tell its own recovery from someone else's: a toxic removed by ``POST /reset`` or by hand
  reads as recovered;
- clean up a proxy made by ``ensure_proxy`` if the worker dies between creating the proxy
  and marking it (the proxy carries no fault; it stays until deleted by hand);
- ``reset-peer`` sends a TCP RST only on connections opened after the toxic was added.
"""

from chaoshub.adapters.toxiproxy.adapter import ToxiproxyAdapter
from chaoshub.adapters.toxiproxy.client import (
    ToxiproxyApi,
    ToxiproxyBadRequest,
    ToxiproxyConflict,
    ToxiproxyError,
    ToxiproxyNotFound,
    ToxiproxyUnavailable,
    api_url,
)
from chaoshub.adapters.toxiproxy.selection import (
    SELECTOR_SCHEMA,
    ProxySpec,
    Selection,
    parse_selector,
)
from chaoshub.adapters.toxiproxy.toxics import DOWN, TOXICS, ToxicKind, toxic_name

__all__ = [
    "DOWN",
    "SELECTOR_SCHEMA",
    "TOXICS",
    "ProxySpec",
    "Selection",
    "ToxicKind",
    "ToxiproxyAdapter",
    "ToxiproxyApi",
    "ToxiproxyBadRequest",
    "ToxiproxyConflict",
    "ToxiproxyError",
    "ToxiproxyNotFound",
    "ToxiproxyUnavailable",
    "api_url",
    "parse_selector",
    "toxic_name",
]
