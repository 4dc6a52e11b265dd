"""``mlops validate``: every spec, environment and version record, and the checks across them."""
