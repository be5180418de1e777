"""Active learning: uncertainty and diversity scores, the ranked queue of
images to annotate next."""
