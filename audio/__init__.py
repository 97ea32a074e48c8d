"""tierline.audio."""
