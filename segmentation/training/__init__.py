"""tierline.segmentation.training."""
