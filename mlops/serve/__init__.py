"""The serving runtime: ``mlops serve`` speaks the Open Inference Protocol (v2 REST) over a verified artifact.

Modules: ``predictor`` (the seam to the model), ``protocol`` (request and response tensors), ``batcher``
(dynamic batching off the event loop), ``metrics`` (Prometheus), ``predlog`` (the sampled prediction log),
``app`` (the ASGI application), ``server`` (lifecycle: warm-up, readiness, drain on SIGTERM), ``serve``
(what the CLI verb runs), ``labels`` (delayed ground-truth labels joined to the prediction log).
"""
