"""Jobs: a runner in the parent, one worker subprocess per job, and the
JSON-lines events between them (see ``events``)."""
