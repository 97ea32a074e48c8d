"""tierline.dialects.evaluation."""
