"""tierline.audio.synthetic."""
