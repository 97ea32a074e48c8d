"""tierline.dialects.training."""
