"""Workflows: experiments that answer a question (DESIGN.md §11).

- :mod:`~chaoshub.workflows.document` — the document and every check that needs no tool;
- :mod:`~chaoshub.workflows.checks` — the checks that ask the tools, as ``startRun`` makes them;
- :mod:`~chaoshub.workflows.probing` — a probe's progress, one stored sample at a time;
- :mod:`~chaoshub.workflows.engine` — the driver that moves a workflow run along, through its
  phases (:mod:`~chaoshub.workflows.steps` moves the steps, :mod:`~chaoshub.workflows.parts`
  holds what both share and samples the probes);
- :mod:`chaoshub.services.workflows` — saving, starting and steering them.
"""
