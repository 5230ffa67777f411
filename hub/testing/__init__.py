"""Tools for adapter authors: the conformance kit (:mod:`hub.testing.conformance`) and an
in-memory adapter (:mod:`hub.testing.memory`) the kit's own tests run against."""
