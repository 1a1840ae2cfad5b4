"""Clients under test: the catalog of real clients, the harness that runs them
against reference servers (the ``client`` fixture), the Python-library runner
(``pylib``), and the suite's own reference client as an agent (``mailspec``)."""
