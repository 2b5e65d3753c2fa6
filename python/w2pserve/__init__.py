"""Python side of w2pserve: helpers shipped beside the binary (stdlib only)."""
