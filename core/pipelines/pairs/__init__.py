"""The two-stage JRDB interaction pipelines (pairs-stage1, pairs-stage2): sampling first."""
