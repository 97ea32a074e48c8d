"""tierline.segmentation."""
