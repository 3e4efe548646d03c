"""Running an agent behind kgate: ``kgate exec``'s pieces that are not the proxy itself.

* ``environment`` — the agent's environment: the broker's own credentials removed, the generated
  kubeconfig and ``KGATE_SESSION`` set (one list of what is removed, printed by the docs).
* ``launch``      — what the ``kgate exec`` process hands its proxy child over a pipe (never argv
  or the environment, which the agent can read), and the child's status messages back.
* ``supervise``   — starting the proxy child and the agent, forwarding signals, and cleaning up
  on every way out.
* ``confine``     — what a confined agent may touch (the allow-list, the credential locations it
  may not read, ``--net``), decided before the agent starts (docs/confinement.md).
* ``landlock``    — the kernel's Landlock interface through ``ctypes`` (rulesets, ABI levels).
* ``mountns``     — hiding pathname sockets (the D-Bus session bus) that Landlock cannot govern.
"""
