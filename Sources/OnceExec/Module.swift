// once-exec supervisor and lease backends.
