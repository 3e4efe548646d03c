"""The pipeline's decision and transformation stages, one small module each.

Each stage is a Protocol plus the implementation kgate uses today:
``scope`` (grant scope; no grants yet, so every request is in scope), ``policy`` (built-in
guardrails; only ``no-impersonation`` so far), ``masking`` (the response/request-body seam the
masking engine plugs into; pass-through for now), ``audit`` (where exchange records go; none or
in memory for now). Stages never import each other or do socket I/O; the pipeline composes them.
"""
