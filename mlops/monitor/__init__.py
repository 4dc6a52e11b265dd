"""The scheduled monitor: judge each pinned version's production window, remember it, and act.

``mlops monitor --env E [--model M]`` reads the window of logged predictions (and their delayed labels) from the
environment's sinks, compares it with the version's own training data (drift: :mod:`mlops.adapters.drift`),
scores the labelled rows (live performance: :mod:`mlops.monitor.performance`), checks data quality
(:mod:`mlops.monitor.quality`), reads the serving layers from Prometheus (:mod:`mlops.adapters.metrics`), keeps
the verdict in the history on the bot's branch (:mod:`mlops.monitor.history`), decides
(:mod:`mlops.monitor.decide`) and acts: a retraining PR (:mod:`mlops.monitor.retrain`), the delivery's rollback,
one issue per data-quality incident.
"""
