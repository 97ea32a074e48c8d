"""tierline.audio.evaluation."""
