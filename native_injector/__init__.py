"""The native injector: the host daemon that serves the HTTP adapter protocol v1."""
