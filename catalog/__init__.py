"""Fault-type definitions as data: ``catalog/<adapter>/<fault>.yaml``, shipped with the wheel."""
