"""``mlops evaluate``: a candidate version against the version pinned in an environment, through the gates."""
