"""Training tools of the voice front-end (the end-of-turn model)."""
