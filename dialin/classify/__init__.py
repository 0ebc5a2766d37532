"""Using the intents: a classifier trained on a run (``classifier``), its training set (``data``), its
confusion (``confusion``), discovery on its unknowns (``discover``) and the downstream measure (``downstream``)."""
