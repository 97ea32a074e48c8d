"""tierline.nlu.training."""
