"""The pipeline's decision and transformation stages, one small module each.

Each stage is a Protocol plus the implementation kgate uses today: ``scope`` (the session's
grant: a 403 naming it outside its namespaces, verbs, resources, or once it is over),
``policy`` (facts → ``kgate.policy`` evaluation: built-in guardrails, then the user's rules;
allow, deny or review), ``body`` (what a request body is: kind/name even for protobuf;
uninspectable bodies refused), ``masking`` (the response/request-body seam and the masking
engine's adapter), ``priming`` (which Secrets a pod's output may print), ``patchops`` (JSON-patch
reads on the server), ``audit`` (where exchange records go). Stages never import each other or
do socket I/O; the pipeline composes them.
"""
