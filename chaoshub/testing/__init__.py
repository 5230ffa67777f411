"""Tools for adapter authors: the conformance kit (:mod:`chaoshub.testing.conformance`) and an
in-memory adapter (:mod:`chaoshub.testing.memory`) the kit's own tests run against."""
