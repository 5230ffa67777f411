"""Built-in adapters. Each registers through the ``chaoshub.adapters`` entry-point group in
``pyproject.toml``, exactly as an outside package would; the hub never imports them directly."""
