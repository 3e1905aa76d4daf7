print("once-exec: not built yet")
