"""tierline.dialects."""
