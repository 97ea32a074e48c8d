"""Models the voice front-end ships (the end-of-turn model)."""
