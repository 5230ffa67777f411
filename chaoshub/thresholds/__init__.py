"""Threshold search: the highest magnitude of a fault a service tolerates within its SLOs,
found by running one generated workflow per magnitude (see DESIGN.md §11)."""
