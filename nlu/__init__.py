"""tierline.nlu."""
