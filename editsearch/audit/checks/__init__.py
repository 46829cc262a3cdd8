"""The audit's checks, one module each (noop, mismatch, reversed, duplicate) over `base.Check`; `registry` lists them.

A check scores every live edit (higher: likelier a problem), measures how far it can be trusted on the collection
it audits (`reliability`, from the collection alone), sets its default threshold from its scores, flags, and says
what a flagged card shows beyond the score. A new check is one module here and a line in `registry.CHECKS`.
"""
