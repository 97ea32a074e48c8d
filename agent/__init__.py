"""tierline.agent."""
