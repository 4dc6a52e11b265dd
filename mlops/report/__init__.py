"""``mlops report``: one pull request comment per PR, updated in place, and the ``mlops/gates`` commit status."""
