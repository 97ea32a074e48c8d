"""Subcommands of `tierline`, one module each, discovered by :mod:`tierline.agent.cli`.

A command module defines ``register(sub)``, which adds its parser to the ``argparse``
subparsers object and sets ``func`` (``args -> exit code``) as the parser default. Errors the
user can fix derive from :class:`tierline.core.errors.TierlineError`: the CLI prints their
message as one line and exits with their code (2). Heavy imports belong inside ``func`` so
``tierline --help`` stays fast.
"""
