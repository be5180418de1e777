"""Training in the studio: the job form, live curves, history (views over core.jobs)."""
