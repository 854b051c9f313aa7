"""Administration: admin authentication, retraining runs executed as subprocesses, the swap policy and added images."""
