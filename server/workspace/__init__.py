"""The text the server reads: open documents (snapshots, cursor context, function sites),
the index of the workspace's other files, and the context block built from them."""
