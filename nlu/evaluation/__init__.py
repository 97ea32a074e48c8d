"""tierline.nlu.evaluation."""
