"""tierline.segmentation.evaluation."""
