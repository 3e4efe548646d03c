"""The sandbox: an in-memory Kubernetes API server that real kubectl 1.32 accepts.

Tests and ``kgate demo`` need a cluster without a cluster. The sandbox speaks HTTPS on loopback
with bearer tokens, and is faithful on the wire where kubectl looks: discovery, Tables, watches,
Status errors, patches. Its building blocks, in request order::

    runner       start/stop (in the caller's loop or a thread), TLS from kgate.pki, kubeconfig
      app        aiohttp app: auth middleware → one dispatcher (reads top-down)
        auth       bearer tokens → UserInfo (static tokens, pluggable OIDC verifier)
        nonresource  health, /version, discovery and OpenAPI paths
          discovery  /version, /api, /apis, per-group lists, aggregated discovery v2
          openapi    the minimum /openapi/v3 kubectl's write commands need
        paths      URL → Target (resource, namespace, name, subresource); pure
        wire       content negotiation: body decoding, Table/metadata forms, dryRun, Status
        reads      get, list (paging, Table, PartialObjectMetadata), unstored resources
        writes     create, update, patch, delete, deletecollection
          fields   fieldValidation (Strict/Warn/Ignore) of top-level and metadata fields
        watch      chunked watch streams: resume, selectors, bookmarks, timeouts
        reviews    auth whoami / can-i reviews and ServiceAccount TokenRequests
        subresources  scale; hand-off of pod streams
        selectors  label and field selectors
        patch      merge, strategic merge, JSON patch, server-side apply
        tables     server-side printing (meta.k8s.io Table) like kube-apiserver's printers
        protobuf   protobuf request bodies → dicts (schema: protoschema)
        streams    pods/log, exec, attach, portforward
          podshell   exec's interpreter: sh, lists, pipelines, argv entry point
            podview      a pod's files, environment and standard streams
            shellsyntax  words, quotes, operators, $VAR expansion; pure
            coreutils    echo, cat, env, ls, grep … built-ins
      store      objects, the resourceVersion counter, watch fan-out
        validation  body shape, DNS names, Secret stringData folding; pure
        defaults    the fields kube-apiserver's defaulters fill in
        apierrors   ApiError and the Status messages kube sends (not found, invalid, …)
      controllers  which store change wakes which reconciler; the queue that runs them
        controlplane  what reconcilers share: store, loop, enqueue, Event recorder
        kubelet     pods scheduled, Running and Ready; Job pods exit
        workloads   Deployments → ReplicaSets → Pods; StatefulSets
        jobs        Job pods to completion or backoff failure
        namespaces  default ServiceAccount, owner-reference GC, quota usage
      registry   resource types from data/api-resources.json (real discovery of 24 GVs)
      seed       base namespaces and the leaky ``demo`` data set
"""
